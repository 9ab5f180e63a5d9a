"""What a stage lets Marea manage: an allow-list of resources and a ceiling on capacity per kind (pure).

Both come from the stage's configuration (chalicelib/settings.py), never from a request: a caller who
may write targets may still only point Marea at the resources, and up to the sizes, the platform team
configured. They are checked when a target is written (the API refuses it) and again before any change
is made (a target written before the stage was tightened does not act).

Allow-list syntax (``MAREA_ALLOWED_RESOURCES``): comma-separated ``kind:pattern`` entries, kind one of
``asg`` (the group's name), ``ecs`` (``cluster/service``, by name even when the target gives ARNs),
``kops`` (``cluster/instance-group``), ``alarm`` (a step policy's alarm, or a target-tracking policy's
``trigger_alarm``), ``account`` and ``region`` (another account or Region a target names, docs/multi-account.md;
Marea's own are always allowed); the pattern is a case-sensitive shell glob (``*``, ``?``, ``[seq]``; ``*``
also spans ``/``). Empty: every resource, as before the list existed. Set: only what it names; a kind with no
entry allows nothing of that kind (``alarm:*`` allows every alarm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TypeVar

from chalicelib.models.resources import scaled_resources
from chalicelib.models.targets import TargetBase

T = TypeVar("T", bound=TargetBase)

ALLOWED_RESOURCES_SETTING = "MAREA_ALLOWED_RESOURCES"
KINDS = ("asg", "ecs", "kops", "alarm", "account", "region")
CEILING_SETTINGS = MappingProxyType(
    {"asg": "MAREA_MAX_CAPACITY_ASG", "ecs": "MAREA_MAX_CAPACITY_ECS", "kops": "MAREA_MAX_CAPACITY_KOPS"}
)
# Defaults a platform team would expect. ECS: 1000, a fifth of AWS's default quota of 5,000 tasks per
# service; ASG: EC2 Auto Scaling has no quota on a group's size (EC2's instance quotas bind), 1000 alike;
# kops: the runner's own safety cap MAREA_MAX_NODES (kops_runner/settings.py), so Marea never asks it for more.
DEFAULT_CEILINGS = MappingProxyType({"asg": 1000, "ecs": 1000, "kops": 1000})
_LABELS = {
    "asg": "Auto Scaling group",
    "ecs": "ECS service",
    "kops": "kops instance group",
    "alarm": "alarm",
    "account": "account",
    "region": "Region",
}


@dataclass(frozen=True)
class Entry:
    kind: str
    pattern: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern}"


@dataclass(frozen=True)
class AllowList:
    """None: everything is allowed (the setting is empty)."""

    entries: tuple[Entry, ...] | None = None

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """The list ``text`` describes; ValueError naming the first bad entry."""
        if not text.strip():
            return cls()
        entries = []
        for raw in text.split(","):
            kind, colon, pattern = raw.strip().partition(":")
            if not colon or kind not in KINDS or not pattern.strip():
                raise ValueError(
                    f"{raw.strip()!r} is not kind:pattern with kind one of {', '.join(KINDS)} "
                    f"(e.g. asg:web-*,ecs:prod/*,kops:k8s.example.com/nodes-*,alarm:*)"
                )
            entries.append(Entry(kind, pattern.strip()))
        return cls(tuple(entries))

    def allows(self, kind: str, name: str) -> bool:
        if self.entries is None:
            return True
        return any(e.kind == kind and fnmatchcase(name, e.pattern) for e in self.entries)

    def patterns(self, kind: str) -> str:
        """The entries of ``kind``, as a person reads them in a refusal."""
        named = [str(e) for e in self.entries or () if e.kind == kind]
        return ", ".join(named) if named else f"no {kind}: entry"


def managed_resources(target: TargetBase) -> list[tuple[str, str]]:
    """(kind, name) of every resource the allow-list judges for ``target``: what it scales, then its alarms."""
    scaled = scaled_resources(target)[0]  # the resource it names (a kops group's own ASG follows from it)
    location = target.location
    where = [("account", location.account_id)] if location.account_id else []
    where += [("region", location.region)] if location.region else []
    return [*where, (scaled.kind, scaled.name), *(("alarm", alarm) for alarm in target.alarm_names)]


@dataclass(frozen=True)
class ResourceLimits:
    allowed: AllowList = AllowList()
    ceilings: Mapping[str, int] = field(default_factory=lambda: DEFAULT_CEILINGS)
    home_region: str | None = None  # the Region Marea runs in (AWS_REGION)

    def region_refusal(self, target: TargetBase) -> str | None:
        """A target names Marea's own Region by leaving ``region`` out, so that each resource has one key
        (chalicelib/models/resources.py) and two targets on it are found out."""
        if target.region is not None and target.region == self.home_region:
            return f"region: {target.region} is the Region Marea runs in: leave region out"
        return None

    def place_refusal(self, target: TargetBase) -> str | None:
        """Why ``target`` lives in an account or Region this stage does not let Marea reach; None when it does not."""
        return self.refusal(target, kinds=("account", "region"))

    def refusal(self, target: TargetBase, kinds: tuple[str, ...] = KINDS) -> str | None:
        """Why ``target`` names a resource this stage does not let Marea manage; None when it names none."""
        for kind, name in managed_resources(target):
            if kind not in kinds:
                continue
            if not self.allowed.allows(kind, name):
                return (
                    f"{_LABELS[kind]} {name!r} is not among the resources this stage lets Marea manage "
                    f"({ALLOWED_RESOURCES_SETTING}: {self.allowed.patterns(kind)})"
                )
        return None

    def ceiling(self, target: TargetBase) -> int | None:
        kind = getattr(target, "kind", None)
        return self.ceilings.get(kind) if isinstance(kind, str) else None

    def ceiling_refusal(self, target: TargetBase) -> str | None:
        """Why ``target``'s max is above the stage's ceiling for its kind; None when it is not."""
        ceiling = self.ceiling(target)
        if ceiling is None or target.max <= ceiling:
            return None
        kind = getattr(target, "kind", "")
        return (
            f"{target.max} is above this stage's ceiling of {ceiling} for {kind} targets "
            f"({CEILING_SETTINGS[kind]}); ask the platform team to raise it, or register a lower max"
        )

    def within_ceiling(self, target: T) -> T:
        """``target`` with [min, max] lowered to the ceiling (a target written before the ceiling was lowered)."""
        ceiling = self.ceiling(target)
        if ceiling is None or target.max <= ceiling:
            return target
        return target.model_copy(update={"min": min(target.min, ceiling), "max": ceiling})


DEFAULT_LIMITS = ResourceLimits()  # no allow-list, the default ceilings
