"""What each target scales, named so that two targets on the same resource get the same key (pure, no I/O).

Two targets scaling one resource would fight: each sets the capacity its own policies want. The
registry lets one target claim each key (chalicelib/store/claims.py). A kops instance group also
claims the Auto Scaling group kops made for it: an `asg` target there fights kops just the same.
A resource of another account or Region is another resource: its key names where it lives.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.models.location import Location
from chalicelib.models.targets import AsgTarget, EcsTarget, KopsTarget, TargetBase


@dataclass(frozen=True, order=True)
class ScaledResource:
    kind: str  # "asg", "ecs", "kops"
    name: str  # "<name>", "<cluster>/<service>", "<cluster>/<group>"
    label: str  # for people: "Auto Scaling group 'web'"
    where: str = ""  # "<account>/<region>" of a target that names them ("-" for Marea's own); "" for Marea's own

    @property
    def key(self) -> str:
        """Unique per resource: "asg:web", "asg@111122223333/us-west-2:web"."""
        return f"{self.kind}{'@' + self.where if self.where else ''}:{self.name}"


def scaled_resources(target: TargetBase) -> list[ScaledResource]:
    """Every resource whose capacity this target sets, the one it names first."""
    where = _where(target.location)
    if isinstance(target, AsgTarget):
        return [_asg(target.asg_name, where)]
    if isinstance(target, EcsTarget):
        cluster, service = _short_name(target.cluster), _short_name(target.service)
        label = f"ECS service {service!r} of cluster {cluster!r}"
        return [ScaledResource("ecs", f"{cluster}/{service}", _placed(label, where), where)]
    if isinstance(target, KopsTarget):
        group = ScaledResource(
            "kops",
            f"{target.cluster_name}/{target.instance_group}",
            f"kops instance group {target.instance_group!r} of cluster {target.cluster_name!r}",
        )
        return [group, _asg(target.asg_name, where)]
    raise TypeError(f"no scaled resource known for {type(target).__name__}")


def _where(location: Location) -> str:
    if location.is_home:
        return ""
    return f"{location.account_id or '-'}/{location.region or '-'}"


def _placed(label: str, where: str) -> str:
    if not where:
        return label
    account, region = where.split("/")
    account_text = "Marea's own account" if account == "-" else f"account {account}"
    region_text = "Marea's own Region" if region == "-" else f"Region {region}"
    return f"{label} in {account_text}, {region_text}"


def _asg(name: str, where: str = "") -> ScaledResource:
    return ScaledResource("asg", name, _placed(f"Auto Scaling group {name!r}", where), where)


def _short_name(name_or_arn: str) -> str:
    """ECS takes a cluster or service by name or ARN (…:cluster/NAME, …:service/CLUSTER/NAME or …:service/NAME)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
