"""The runner-role guard (tests/infra/runner_guard.py) catches a call the runner's IAM role would refuse.

kops below 1.31 has no `--instance-group`: the runner's `kops update cluster --yes` then reconciles every
instance group, and a control-plane group whose ASG drifted from its spec gets UpdateAutoScalingGroup. The
TaskRole denies that (NeverResizeControlPlane): in AWS kops would fail there; here the guard reports it.
"""

from __future__ import annotations

import pytest

from marea_local.kops_local import run_runner_locally
from tests.infra.runner_guard import runner_calls_observed
from tests.kops_runner.conftest import BUCKET, CLUSTER, CONTROL_PLANE, KopsWorld

pytestmark = pytest.mark.integration


def test_a_whole_cluster_update_that_touches_the_control_plane_is_reported(world: KopsWorld) -> None:
    # A cluster last applied by kops 1.30, whose control-plane ASG someone raised by hand
    world.s3.put_object(Bucket=BUCKET, Key=f"{CLUSTER}/kops-version.txt", Body=b"1.30.0")
    world.autoscaling.update_auto_scaling_group(AutoScalingGroupName=world.control_plane.asg_name, MaxSize=3)
    decision_id = world.new_decision(3, 5)

    with runner_calls_observed() as seen:  # takes the calls over from the autouse guard, to look at them
        run_runner_locally(world.start(decision_id), double_env={"KOPS_DOUBLE_VERSION": "1.30.0"})

    control_plane_asg = f"{CONTROL_PLANE}.masters.{CLUSTER}"
    assert any(
        p.startswith("kops double: autoscaling.UpdateAutoScalingGroup")
        and f"autoScalingGroupName/{control_plane_asg}" in p
        for p in seen.problems
    ), seen.problems
    assert all("runner:" not in p for p in seen.problems)  # the runner's own calls are all allowed
