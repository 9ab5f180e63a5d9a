"""Cooldowns and instance warm-up: what a scale-out is sized from, and when a scale-in must wait.

Where EC2 Auto Scaling and Application Auto Scaling differ, the target's ``scaling_service`` says
which one it follows (docs/aws-semantics.md, "Cooldowns and instance warm-up" and "A larger step
during a cooldown"). Both count what was asked for and has not served yet toward the next
scale-out, so a larger one goes through at once, adding only the difference, and a same or smaller
one waits:

- units not serving yet (tasks not started, instances not in service) count, on every kind;
- so do the units the last scale-out added, for a while after it: Application Auto Scaling (ECS)
  during the policy's scale-out cooldown; EC2 Auto Scaling (ASG, kops) during their instance
  warm-up, for which Marea reads the policy's cooldown field (AWS too uses the group's cooldown
  as the warm-up when none is set).

Scale-in: Application Auto Scaling waits for the scale-in cooldown; EC2 Auto Scaling has no
cooldown for target tracking and step policies, and waits until the instances have warmed up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import CapacityChange, Signal, TargetHistory
from chalicelib.models.targets import ScalingService, StepScalingPolicy, TargetBase, TargetTrackingPolicy

ScalingPolicy = TargetTrackingPolicy | StepScalingPolicy


@dataclass(frozen=True)
class RecentScaleOut:
    """The last scale-out, still within a policy's cooldown (AAS) or instance warm-up (EC2) at ``now``."""

    last: CapacityChange
    before: int  # the capacity it (and any larger one let through after it) was sized from
    seconds: int
    now: datetime
    warm_up: bool  # EC2 instance warm-up rather than an Application Auto Scaling cooldown

    @property
    def ago_s(self) -> int:
        return int((self.now - self.last.at).total_seconds())

    @property
    def left_s(self) -> int:
        return math.ceil((self.last.at + timedelta(seconds=self.seconds) - self.now).total_seconds())

    def window(self) -> str:
        kind = "warm-up" if self.warm_up else "cooldown"
        return f"{kind} {self.seconds} s, {self.left_s} s left"


@dataclass(frozen=True)
class SizingBase:
    """The capacity a scale-out is sized from, below ``current`` when earlier asks count toward it.

    For target tracking it is the units the metric was measured over (the units serving, which may
    exceed the desired capacity during an ECS deployment, or those that served the datapoint's
    period: ``behind_datapoint``); a step applies its adjustment to it.
    """

    capacity: int
    current: int
    recent: RecentScaleOut | None = None  # set when the last scale-out's base is the one used
    serving: int | None = None  # the units serving now, set when ``capacity`` is those behind the datapoint

    def behind_datapoint(self, behind: int, serving: int) -> SizingBase:
        """Sized from the ``behind`` units that served the datapoint instead, when they are not the
        ``serving`` now (engine/serving.py); the last scale-out's base stays when it is lower."""
        if behind == serving or (self.recent is not None and self.capacity <= behind):
            return self
        return replace(self, capacity=behind, recent=None, serving=serving)

    @property
    def reason(self) -> ReasonCode:
        """Why a scale-out that the earlier asks already cover waits."""
        if self.recent is not None and not self.recent.warm_up:
            return ReasonCode.COOLDOWN
        return ReasonCode.SCALE_OUT_IN_PROGRESS

    def covered(self, need: int) -> str:
        """Why asking for ``need`` adds nothing: units already asked for cover it."""
        added = self.current - self.capacity
        if self.serving is not None:
            return f"the {self.capacity} units that served the datapoint need {need}; {self._since_datapoint()}"
        if self.recent is None:
            return f"{self.capacity} serving need {need}, {added} more already starting"
        recent = self.recent
        counted = "are still warming up" if recent.warm_up else "count toward it"
        return (
            f"{self.capacity} before the scale-out {recent.ago_s} s ago need {need}; the {added} it added"
            f" {counted} ({recent.window()})"
        )

    def sized(self, need: int) -> str:
        """How a scale-out larger than the earlier asks was sized ("" when from the current capacity)."""
        added = self.current - self.capacity
        if self.serving is not None:
            since = self._since_datapoint()
            return f"sized from the {self.capacity} units that served the datapoint (need {need}); {since}"
        if added <= 0:
            return ""
        if self.recent is None:
            return f"{self.capacity} serving need {need}, {added} of them already starting"
        ago = self.recent.ago_s
        return f"{self.capacity} before the scale-out {ago} s ago need {need}, the {added} it added among them"

    def _since_datapoint(self) -> str:
        serving = self.capacity if self.serving is None else self.serving
        came, starting = serving - self.capacity, self.current - serving
        parts = [f"{came} more came into service since" if came > 0 else f"{-came} left service since"]
        if starting > 0:
            parts.append(f"{starting} more already starting")
        return ", ".join(parts)


def sizing_base(
    target: TargetBase, policy: ScalingPolicy, signal: Signal, history: TargetHistory, now: datetime
) -> SizingBase:
    """What ``policy``'s scale-out at ``now`` is sized from: the units serving, or the capacity before
    the last scale-out while its cooldown or warm-up runs, whichever is lower."""
    current = signal.current_capacity
    serving = current if signal.serving_capacity is None else signal.serving_capacity
    recent = recent_scale_out(target, policy, history, now)
    if recent is not None and recent.before < min(serving, current):
        return SizingBase(capacity=recent.before, current=current, recent=recent)
    return SizingBase(capacity=serving, current=current)


def recent_scale_out(
    target: TargetBase, policy: ScalingPolicy, history: TargetHistory, now: datetime
) -> RecentScaleOut | None:
    """The last scale-out if its units still count toward ``policy``'s next one at ``now``.

    The window is the policy's cooldown field: ``scale_out_cooldown_s`` (target tracking) or
    ``cooldown_s`` (step). Application Auto Scaling keeps a step policy's cooldown to its own
    scale-outs; EC2 instances warm up whoever ordered them.
    """
    last = history.last_scale_out
    if last is None or last.before is None:  # before: not recorded in histories stored earlier
        return None
    warm_up = target.scaling_service is ScalingService.EC2_AUTO_SCALING
    if isinstance(policy, StepScalingPolicy):
        if not warm_up and history.last_action_by_policy.get(policy.name) != last.at:
            return None
        seconds = policy.cooldown_s
    else:
        seconds = policy.scale_out_cooldown_s
    if now >= last.at + timedelta(seconds=seconds):
        return None
    return RecentScaleOut(last=last, before=last.before, seconds=seconds, now=now, warm_up=warm_up)


def scale_in_cooldown_end(
    target: TargetBase, policy: ScalingPolicy, history: TargetHistory, now: datetime
) -> datetime | None:
    """End of the cooldown a scale-in by ``policy`` waits for at ``now``; None when it may act.

    Application Auto Scaling only. Step: the policy's own cooldown after its last action. Target
    tracking: ``scale_in_cooldown_s`` after the last change in either direction (AWS starts it after
    a scale-in; Marea also after a scale-out, so a fleet that just grew is not shrunk at once).
    """
    if target.scaling_service is not ScalingService.APPLICATION_AUTO_SCALING:
        return None
    if isinstance(policy, StepScalingPolicy):
        last = history.last_action_by_policy.get(policy.name)
        seconds = policy.cooldown_s
    else:
        changes = [c.at for c in (history.last_scale_in, history.last_scale_out) if c is not None]
        last = max(changes, default=None)
        seconds = policy.scale_in_cooldown_s
    if last is None:
        return None
    end = last + timedelta(seconds=seconds)
    return end if now < end else None


def scale_in_suspension(
    target: TargetBase, policy: ScalingPolicy | None, signal: Signal, history: TargetHistory, now: datetime
) -> str | None:
    """Why scale-in is suspended now, None when it is not: the resource says so (an ECS deployment in
    progress), or, under EC2 Auto Scaling, instances are still warming up (``policy``: the winner's)."""
    if signal.scale_in_suspended is not None:
        return signal.scale_in_suspended
    if target.scaling_service is not ScalingService.EC2_AUTO_SCALING:
        return None
    serving, current = signal.serving_capacity, signal.current_capacity
    if serving is not None and serving < current:
        return f"{current - serving} of {current} instances are not in service yet (instance warm-up)"
    recent = None if policy is None else recent_scale_out(target, policy, history, now)
    if recent is not None and recent.before < recent.last.capacity:
        added = recent.last.capacity - recent.before
        return f"the {added} instances the scale-out {recent.ago_s} s ago added are warming up ({recent.window()})"
    return None


def base_after_scale_out(
    target: TargetBase, policy: ScalingPolicy | None, history: TargetHistory, current: int, now: datetime
) -> int:
    """The ``before`` to remember for a scale-out from ``current`` at ``now``: one let through while
    the last one's units still counted keeps that base, so the same step is not applied twice."""
    recent = None if policy is None else recent_scale_out(target, policy, history, now)
    return current if recent is None else min(recent.before, current)
