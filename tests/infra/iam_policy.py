"""A small IAM policy evaluator: enough of AWS's rules to check Marea's identity policies offline.

It implements explicit Deny over Allow, Action and Resource lists with ``*`` and ``?`` wildcards
(actions compared case-insensitively, resources case-sensitively, ``*`` spanning ``/`` and ``:``
as in IAM) and the condition operators Marea's policies use: StringEquals, StringLike, ArnLike,
ArnEquals, Bool, the Numeric comparisons (NumericLessThanEquals...), each with ``IfExists``;
``Null``; and ``ForAllValues:``/``ForAnyValue:`` over multi-valued keys (a request value that is a
tuple, e.g. ``dynamodb:Attributes``). Anything else in a policy (NotAction, NotResource, policy
variables, other operators, a multi-valued key without a set operator) raises
``UnsupportedPolicyError``: a policy that uses more of IAM than this checker understands fails
loudly instead of passing silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from operator import eq, ge, gt, le, lt, ne
from pathlib import Path
from typing import Any


class UnsupportedPolicyError(ValueError):
    """The policy uses an IAM feature this evaluator does not implement."""


class Verdict(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


# A request's condition key holds one value, or several (ArrayOfString keys such as dynamodb:Attributes).
ContextValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """One authorisation AWS makes: an action on a resource ARN (or "*"), with condition keys."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={v if isinstance(v, str) else list(v)}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" [{keys}]" if keys else "")


@lru_cache(maxsize=256)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise UnsupportedPolicyError(f"policy variables are not supported: {pattern}")
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _wildcard(pattern, case_sensitive).match(value) is not None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # a numeric condition's value, unquoted
        return [str(value)]
    return [value] if isinstance(value, str) else list(value)


# IAM's numeric operators: the request's number compared with the policy's.
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": eq,
    "NumericNotEquals": ne,
    "NumericLessThan": lt,
    "NumericLessThanEquals": le,
    "NumericGreaterThan": gt,
    "NumericGreaterThanEquals": ge,
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric_matches(compare: Callable[[float, float], bool], actual: str, expected: Sequence[str]) -> bool:
    value = _number(actual)
    if value is None:  # not a number: no numeric condition matches
        return False
    limits = [_number(e) for e in expected]
    if None in limits:
        raise UnsupportedPolicyError(f"a numeric condition needs numbers, not {list(expected)}")
    return any(compare(value, limit) for limit in limits if limit is not None)


def _value_matches(operator: str, actual: str, expected: Sequence[str]) -> bool:
    if operator in _NUMERIC:
        return _numeric_matches(_NUMERIC[operator], actual, expected)
    if operator == "StringEquals":
        return actual in expected
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return any(wildcard_match(p, actual) for p in expected)
    if operator == "Bool":
        return actual.lower() in (e.lower() for e in expected)
    raise UnsupportedPolicyError(f"condition operator {operator} is not supported")


def _condition_holds(operator: str, key: str, expected: Sequence[str], context: Mapping[str, ContextValue]) -> bool:
    actual = context.get(key)
    if operator == "Null":  # "true": the request lacks the key; "false": it carries it (any value)
        return (actual is None) == (expected[0].lower() == "true")
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if qualifier == "ForAllValues":  # IAM: true for a missing or empty key, else every value must match
        values = () if actual is None else (actual,) if isinstance(actual, str) else actual
        return all(_value_matches(operator, v, expected) for v in values)
    if qualifier == "ForAnyValue":
        values = () if actual is None else (actual,) if isinstance(actual, str) else actual
        return any(_value_matches(operator, v, expected) for v in values)
    if qualifier:
        raise UnsupportedPolicyError(f"set operator {qualifier} is not supported")
    if actual is None:
        return if_exists  # IAM: a condition on a key absent from the request does not match, but ...IfExists does
    if not isinstance(actual, str):
        raise UnsupportedPolicyError(f"{key} has several values: the policy needs ForAllValues or ForAnyValue")
    return _value_matches(operator, actual, expected)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(raw)
        if unsupported:
            raise UnsupportedPolicyError(f"statement {raw.get('Sid')!r} uses {sorted(unsupported)}")
        if raw["Effect"] not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"effect {raw['Effect']!r}")
        return cls(
            sid=str(raw.get("Sid", "")),
            effect=raw["Effect"],
            actions=tuple(_as_list(raw["Action"])),
            resources=tuple(_as_list(raw["Resource"])),
            condition=raw.get("Condition", {}),
        )

    def matches(self, request: Request) -> bool:
        if not any(wildcard_match(a, request.action, case_sensitive=False) for a in self.actions):
            return False
        if not any(wildcard_match(r, request.resource) for r in self.resources):
            return False
        return all(
            _condition_holds(operator, key, _as_list(expected), request.context)
            for operator, keys in self.condition.items()
            for key, expected in keys.items()
        )


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    @classmethod
    def from_document(cls, name: str, document: Mapping[str, Any]) -> Policy:
        if document.get("Version") != "2012-10-17":
            raise UnsupportedPolicyError(f"{name}: policy Version must be 2012-10-17")
        raw = document["Statement"]
        return cls(name=name, statements=tuple(Statement.parse(s) for s in ([raw] if isinstance(raw, dict) else raw)))

    @classmethod
    def load(cls, path: Path) -> Policy:
        return cls.from_document(path.name, json.loads(path.read_text(encoding="utf-8")))

    def evaluate(self, request: Request) -> Verdict:
        matching = [s for s in self.statements if s.matches(request)]
        if any(s.effect == "Deny" for s in matching):
            return Verdict.EXPLICIT_DENY
        return Verdict.ALLOW if matching else Verdict.IMPLICIT_DENY

    def allows(self, request: Request) -> bool:
        return self.evaluate(request) is Verdict.ALLOW
