"""marea_deploy/bytecode.py: the .pyc files the Lambda zip carries."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from marea_deploy import bytecode

TAG = sys.implementation.cache_tag


def _package(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def answer() -> int:\n    return 42\n")
    return root / "pkg"


def test_the_same_source_compiles_to_the_same_bytes_wherever_it_lies(tmp_path: Path) -> None:
    """Chalice hashes the files it zips: bytecode that named the folder it was compiled in would change the
    package's hash with every build in a fresh temporary folder."""
    first, second = _package(tmp_path / "a" / "one"), _package(tmp_path / "b")

    assert bytecode.compile_tree(first)
    assert bytecode.compile_tree(second)

    compiled = [(p / "__pycache__" / f"mod.{TAG}.pyc").read_bytes() for p in (first, second)]
    assert compiled[0] == compiled[1]
    assert bytecode.is_current_bytecode(compiled[0], (first / "mod.py").read_bytes())


def test_bytecode_lands_beside_the_source_whatever_pythonpycacheprefix_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(tmp_path / "src")
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "elsewhere"))

    assert bytecode.compile_tree(package)

    assert (package / "__pycache__" / f"mod.{TAG}.pyc").is_file()
    assert not (tmp_path / "elsewhere").exists()
    assert sys.pycache_prefix == str(tmp_path / "elsewhere")  # put back as it was


def test_a_stale_or_timestamp_pyc_is_not_current(tmp_path: Path) -> None:
    package = _package(tmp_path / "src")
    source = (package / "mod.py").read_bytes()
    assert bytecode.compile_tree(package)
    current = (package / "__pycache__" / f"mod.{TAG}.pyc").read_bytes()

    assert not bytecode.is_current_bytecode(current, source + b"# edited\n")
    timestamp_based = importlib.util.MAGIC_NUMBER + b"\0" * 12  # flags 0: checked by file time, not by hash
    assert not bytecode.is_current_bytecode(timestamp_based, source)
