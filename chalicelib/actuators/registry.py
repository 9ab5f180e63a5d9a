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
    kind = getattr(target, "kind", None)
    if kind == "asg":
        return AsgActuator(aws.autoscaling())
    if kind == "ecs":
        return EcsActuator(aws.ecs())
    if kind == "kops":
        return KopsActuator(aws.autoscaling(), aws.ecs(), get_settings().kops_runner())
    raise ValueError(f"no actuator for target kind {kind!r}")
