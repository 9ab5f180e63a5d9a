"""Hypothesis strategies for hostile input: random JSON, boundary values, and valid documents bent out of shape."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

BOUNDARY_NUMBERS = st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, 2**53, 2**63, -(2**63), 10**100, 1e308, -1e308, 1e-308, 0.5, -0.0]
)
BOUNDARY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\n",
        "%",
        "%00",
        "../..",
        "'; DROP TABLE targets; --",
        "${jndi:ldap://127.0.0.1/x}",
        "<script>alert(1)</script>",
        "\u202e",
        "\U0001f525" * 64,
        "a" * 129,
        "a" * 4096,
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-01-01T00:00:00",
        "NaN",
        "Infinity",
        "null",
        "[]",
        "{}",
        "ALARM",
        "OK",
        "INSUFFICIENT_DATA",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | BOUNDARY_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | BOUNDARY_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=16,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``document`` (dict keys and list indexes)."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any], max_mutations: int = 3) -> Any:
    """``document`` with 1..max_mutations values replaced, removed, or given an unexpected neighbour."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(result)
        if not paths:
            return draw(JSON)
        path = draw(st.sampled_from(paths))
        parent = result
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[key] = draw(JSON)
        elif action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "remove" and isinstance(parent, list):
            parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(JSON)
        else:
            parent.append(draw(JSON))
    return result


def hostile(document: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly near-valid mutations of ``document``, sometimes anything at all."""
    return st.one_of(mutated(document), mutated(document), JSON)
