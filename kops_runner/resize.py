"""One resize, step by step: version → read the group → refuse or (dry run | edit → update → verify).

Marea never resizes a kops node group through its ASG: kops owns the ASG's MinSize/MaxSize and
puts them back to the instance group spec on the next `kops update cluster`. So the change is
made where kops keeps it, in the instance group, with the kops CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kops_runner.errors import BadRequest, KopsFailed
from kops_runner.instance_group import NODE_ROLE, InstanceGroup, KopsVersion
from kops_runner.kops_cli import KopsCli
from kops_runner.outcome import Outcome, Sizes, Status, clip
from kops_runner.verification import verify

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

    from kops_runner.settings import RunRequest


class Resize:
    """Runs one request; remembers what it learnt (kops version, previous sizes) for the outcome."""

    def __init__(
        self,
        request: RunRequest,
        kops: KopsCli,
        autoscaling: Callable[[], AutoScalingClient],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.request = request
        self.kops = kops
        self._autoscaling = autoscaling
        self._sleep = sleep
        self.kops_version: KopsVersion | None = None
        self.previous: Sizes | None = None

    def run(self) -> tuple[Status, str]:
        request = self.request
        self.kops_version = self.kops.version()
        group = self.kops.get_instance_group(request.instance_group)
        self.previous = Sizes(min=group.spec.min_size, max=group.spec.max_size)
        _refuse_unless_node_group(group, request.cluster)
        # Scope the update to this group when kops can; older kops updates the whole cluster.
        scope = request.instance_group if self.kops_version.supports_instance_group_flag else None
        change = (
            f"instance group {request.instance_group} of {request.cluster} to minSize {request.min_size}, "
            f"maxSize {request.max_size} (was {self.previous.min}, {self.previous.max})"
        )
        if not request.apply:
            preview = self.kops.update_cluster(yes=False, instance_group=scope)
            return Status.DRY_RUN, clip(
                f"Dry run, nothing changed: would set {change}. "
                f"kops update cluster without --yes, on the state store as it is, reports: "
                f"{' '.join(preview.split()) or 'nothing'}"
            )
        self.kops.deadline.require_for_change("kops edit ig")
        self.kops.set_sizes(request.instance_group, request.min_size, request.max_size)
        try:
            self.kops.update_cluster(yes=True, instance_group=scope)
        except KopsFailed as error:
            # The spec is already written: whoever runs `kops update cluster` next applies it. Say so.
            raise KopsFailed(
                f"instance group spec set to {request.min_size}..{request.max_size} but {error}"
            ) from error
        confirmed = verify(request, self.kops, self._autoscaling(), self._sleep)
        return Status.APPLIED, f"Set {change}; {confirmed}."

    def outcome(self, status: Status, message: str) -> Outcome:
        request = self.request
        return Outcome(
            decision_id=request.decision_id,
            cluster=request.cluster,
            instance_group=request.instance_group,
            requested=Sizes(min=request.min_size, max=request.max_size),
            previous=self.previous,
            applied=status is Status.APPLIED,
            dry_run=not request.apply,
            status=status,
            message=message,
            kops_version=str(self.kops_version) if self.kops_version else None,
        )


def _refuse_unless_node_group(group: InstanceGroup, cluster: str) -> None:
    if not group.is_node_group:
        raise BadRequest(
            f"instance group {group.metadata.name} of {cluster} has role {group.spec.role}, "
            f"not {NODE_ROLE}: Marea sizes node groups only"
        )
