"""What each target scales, named so that two targets on the same resource get the same key (pure, no I/O).

Two targets scaling one resource would fight: each sets the capacity its own policies want. The
registry lets one target claim each key (chalicelib/store/claims.py). A kops instance group also
claims the Auto Scaling group kops made for it: an `asg` target there fights kops just the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.models.targets import AsgTarget, EcsTarget, KopsTarget, TargetBase


@dataclass(frozen=True, order=True)
class ScaledResource:
    key: str  # unique per resource: "asg:<name>", "ecs:<cluster>/<service>", "kops:<cluster>/<group>"
    label: str  # for people: "Auto Scaling group 'web'"


def scaled_resources(target: TargetBase) -> list[ScaledResource]:
    """Every resource whose capacity this target sets, the one it names first."""
    if isinstance(target, AsgTarget):
        return [_asg(target.asg_name)]
    if isinstance(target, EcsTarget):
        cluster, service = _short_name(target.cluster), _short_name(target.service)
        return [ScaledResource(f"ecs:{cluster}/{service}", f"ECS service {service!r} of cluster {cluster!r}")]
    if isinstance(target, KopsTarget):
        group = ScaledResource(
            f"kops:{target.cluster_name}/{target.instance_group}",
            f"kops instance group {target.instance_group!r} of cluster {target.cluster_name!r}",
        )
        return [group, _asg(target.asg_name)]
    raise TypeError(f"no scaled resource known for {type(target).__name__}")


def _asg(name: str) -> ScaledResource:
    return ScaledResource(f"asg:{name}", f"Auto Scaling group {name!r}")


def _short_name(name_or_arn: str) -> str:
    """ECS takes a cluster or service by name or ARN (…:cluster/NAME, …:service/CLUSTER/NAME or …:service/NAME)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
