"""Which actuator serves which target kind: the one place a new kind (kops) plugs in."""

from __future__ import annotations

from chalicelib import aws
from chalicelib.actuators.asg import AsgActuator
from chalicelib.actuators.base import AnyActuator
from chalicelib.actuators.ecs import EcsActuator
from chalicelib.actuators.kops import KopsActuator
from chalicelib.models.targets import TargetBase
from chalicelib.settings import get_settings


def actuator_for(target: TargetBase) -> AnyActuator:
    """The target's actuator, reading where the target lives and changing it in a session named by the decision."""
    kind = getattr(target, "kind", None)
    location = target.location
    if kind == "asg":
        return AsgActuator(aws.autoscaling(location), lambda decision_id: aws.autoscaling(location, decision_id))
    if kind == "ecs":
        return EcsActuator(aws.ecs(location), lambda decision_id: aws.ecs(location, decision_id))
    if kind == "kops":
        return KopsActuator(aws.autoscaling(), aws.ecs(), get_settings().kops_runner())
    raise ValueError(f"no actuator for target kind {kind!r}")
