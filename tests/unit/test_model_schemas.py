"""Every model of chalicelib defers building its schema to first use, so that a cold start builds only the
schemas its event needs (docs/cold-start.md). A schema error would then surface at first use, not at import:
these tests build every one."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from pydantic import BaseModel, TypeAdapter

import chalicelib


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")]
    return [importlib.import_module(name) for name in names]


def _models() -> list[type[BaseModel]]:
    _modules()
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("chalicelib.") and model not in found:
                found.append(model)
    return found


def _adapters() -> list[tuple[str, TypeAdapter[object]]]:
    return [
        (f"{module.__name__}.{name}", value)
        for module in _modules()
        for name, value in vars(module).items()
        if isinstance(value, TypeAdapter)
    ]


def test_every_model_and_module_level_adapter_defers_its_schema() -> None:
    models, adapters = _models(), _adapters()
    assert len(models) > 50  # the walk found them, not a handful
    assert adapters

    eager = [m.__qualname__ for m in models if m.model_config.get("defer_build") is not True]
    eager += [name for name, adapter in adapters if not adapter._defer_build]  # what TypeAdapter itself consults

    assert eager == []


def test_every_deferred_schema_builds() -> None:
    for model in _models():
        model.model_rebuild(force=True)
        assert model.__pydantic_complete__, model.__qualname__
    for name, adapter in _adapters():
        adapter.rebuild(force=True)
        assert adapter.pydantic_complete, name
