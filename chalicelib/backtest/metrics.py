"""Summary figures of a replay: provisioning, cost, and the SPEC elasticity metrics.

SPEC Research Group elasticity metrics (Herbst et al., BUNGEE), with demand d_t = the units the
step needs at the target utilization (the ideal) and supply s_t = the ready units, over T steps:
θU = 100/T Σ max(d_t - s_t, 0)/d_t, θO = 100/T Σ max(s_t - d_t, 0)/d_t (steps with d_t = 0 add
nothing), τU = 100/T #{d_t > s_t}, τO = 100/T #{s_t > d_t}, jitter = (supply adaptations -
demand changes) / T, given here per hour. A step is a minute unless the trace is finer; durations
are also given in minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from chalicelib.backtest.trace import MINUTE_S
from chalicelib.backtest.world import World


@dataclass(frozen=True)
class Summary:
    steps: int
    under_provisioned_steps: int
    unit_hours: float
    ideal_unit_hours: float
    scaling_actions: int  # steps in which the policy changed the desired units
    scale_outs: int
    scale_ins: int
    theta_u: float
    theta_o: float
    tau_u: float
    tau_o: float
    jitter_per_hour: float
    step_s: int = MINUTE_S

    @property
    def minutes(self) -> float:
        """The replay's length in minutes (a whole number in a minute replay)."""
        return self.steps * self.step_s / MINUTE_S

    @property
    def under_provisioned_minutes(self) -> float:
        return self.under_provisioned_steps * self.step_s / MINUTE_S

    @property
    def under_provisioned_pct(self) -> float:
        return 100.0 * self.under_provisioned_steps / self.steps if self.steps else 0.0

    @property
    def cost_vs_ideal(self) -> float:
        return self.unit_hours / self.ideal_unit_hours if self.ideal_unit_hours else float("inf")


def summarize(
    world: World,
    demand: Sequence[float],
    desired: Sequence[int],
    ready: Sequence[int],
    initial: int,
    step_s: int = MINUTE_S,
) -> Summary:
    steps = len(demand)
    ideal = [world.ideal_units(d, step_s) for d in demand]
    under = sum(1 for d, r in zip(demand, ready, strict=True) if world.overloaded(d, r, step_s))
    outs = ins = 0
    previous = initial
    for units in desired:
        outs += units > previous
        ins += units < previous
        previous = units
    theta_u = theta_o = 0.0
    tau_u = tau_o = 0
    for need, supply in zip(ideal, ready, strict=True):
        if need > supply:
            tau_u += 1
            theta_u += (need - supply) / need
        elif supply > need:
            tau_o += 1
            theta_o += (supply - need) / need if need else 0.0
    scale = 100.0 / steps if steps else 0.0
    steps_per_hour = 3600 / step_s
    hours = steps / steps_per_hour
    jitter = (_changes(ready) - _changes(ideal)) / hours if hours else 0.0
    return Summary(
        steps=steps,
        under_provisioned_steps=under,
        unit_hours=sum(desired) / steps_per_hour,
        ideal_unit_hours=sum(ideal) / steps_per_hour,
        scaling_actions=outs + ins,
        scale_outs=outs,
        scale_ins=ins,
        theta_u=theta_u * scale,
        theta_o=theta_o * scale,
        tau_u=tau_u * scale,
        tau_o=tau_o * scale,
        jitter_per_hour=jitter,
        step_s=step_s,
    )


def _changes(values: Sequence[int]) -> int:
    return sum(1 for before, after in pairwise(values) if before != after)
