"""POST /backtest request and response models (the API's contract for backtests).

Numbers and flags are strict: ``"days": "7"`` or ``"trajectory": "yes"`` is refused rather than
guessed. The proposed policy is a preset name or policies in the same schema as a target's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from chalicelib.backtest.world import Kind
from chalicelib.constants import TARGET_ID_PATTERN
from chalicelib.models.targets import (
    MAX_CAPACITY_LIMIT,
    CustomMetric,
    IanaZone,
    Policy,
    Statistic,
)

# CloudWatch keeps 1-minute datapoints for 15 days; a backtest reads whole days of them.
MAX_BACKTEST_DAYS = 14
DEFAULT_BACKTEST_DAYS = 7
DEMAND_PERIOD_S = 60
# Below this the units a minute needs overflow a float (a 1e-310 capacity is a typo, not a server).
MIN_UNIT_CAPACITY = 1e-6
# The policies `run_backtest` knows by name (chalicelib/backtest/replay.py POLICY_NAMES).
PresetName = Literal["marea", "aws-target-tracking", "hpa", "scheduled"]


def _proposal_kind(value: object) -> str:
    return "policies" if isinstance(value, list) else "preset"


# Tagged so that an error names the branch the value took: ``proposed.policies.0.target_value``,
# not every member of the union.
Proposal = Annotated[
    Annotated[PresetName, Tag("preset")] | Annotated[list[Policy], Field(min_length=1, max_length=20), Tag("policies")],
    Discriminator(_proposal_kind),
]


class _Body(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class DemandMetric(_Body):
    """The CloudWatch metric that counts the target's requests; read per minute with ``statistic``.

    Its value for a minute must be the requests of that minute: ``Sum`` of a count such as the
    ALB's ``RequestCount`` (the default), or a gauge published once a minute.
    """

    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    statistic: Statistic = Statistic.SUM

    def as_metric(self) -> CustomMetric:
        return CustomMetric(
            namespace=self.namespace,
            metric_name=self.metric_name,
            dimensions=self.dimensions,
            statistic=self.statistic,
            period_s=DEMAND_PERIOD_S,
        )


class BacktestRequest(_Body):
    target: str = Field(pattern=TARGET_ID_PATTERN, description="id of a registered target")
    days: int = Field(default=DEFAULT_BACKTEST_DAYS, ge=1, le=MAX_BACKTEST_DAYS, strict=True)
    unit_capacity: float = Field(
        ge=MIN_UNIT_CAPACITY,
        le=1e12,
        strict=True,
        allow_inf_nan=False,
        description="requests per minute one unit (instance, task, node) serves at 100 % utilization",
    )
    target_utilization: float = Field(
        default=70, ge=1, le=100, strict=True, description="percent: the ideal capacity, and the presets' target"
    )
    proposed: Proposal = Field(
        default="marea", description="a preset name, or policies in the schema of a target's `policies`"
    )
    scale_in_stabilization_s: int | None = Field(
        default=None, ge=0, le=3600, strict=True, description="for proposed policies: default the target's"
    )
    demand_metric: DemandMetric | None = Field(
        default=None, description="default: the request count the target's policies already read"
    )
    timezone: IanaZone | None = Field(
        default=None, description="local clock of the presets' seasonality: default the target's predictive policy's"
    )
    trajectory: bool = Field(default=False, strict=True, description="include demand and units minute by minute")

    @model_validator(mode="after")
    def _replayable_proposal(self) -> BacktestRequest:
        if isinstance(self.proposed, str):
            if self.scale_in_stabilization_s is not None:
                raise ValueError("scale_in_stabilization_s applies to proposed policies, not to a preset")
            return self
        names = [p.name for p in self.proposed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"proposed policy names must be unique; repeated: {', '.join(duplicates)}")
        return self


class SummaryFigures(_Body):
    """A replay's summary (docs/backtesting.md "Summary figures")."""

    minutes: int
    under_provisioned_minutes: int
    under_provisioned_pct: float
    unit_hours: float
    ideal_unit_hours: float
    cost_vs_ideal: float | None = Field(description="unit-hours / ideal unit-hours; null when the ideal is 0")
    scaling_actions: int
    scale_outs: int
    scale_ins: int
    theta_u: float
    theta_o: float
    tau_u: float
    tau_o: float
    jitter_per_hour: float


class PolicyRun(_Body):
    label: str
    summary: SummaryFigures
    cpu_seconds: float = Field(description="CPU time of the replay")


class WorldFigures(_Body):
    kind: Kind
    provisioning_delay_min: int
    unit_capacity: float
    target_utilization: float
    min_units: int = Field(ge=0, le=MAX_CAPACITY_LIMIT)
    max_units: int = Field(ge=0, le=MAX_CAPACITY_LIMIT)
    timezone: str


class Change(_Body):
    """One figure of both runs: ``change`` = proposed - current, ``ratio`` = proposed / current."""

    current: int | float
    proposed: int | float
    change: int | float
    ratio: float | None = Field(description="null when the current figure is 0")


class Comparison(_Body):
    under_provisioned_minutes: Change
    unit_hours: Change
    scaling_actions: Change
    proposed_is_better: bool = Field(
        description="no more under-provisioned minutes and no more unit-hours than current, and fewer of one"
    )


class Units(_Body):
    desired: list[int] = Field(description="units desired (booting + serving) each minute")
    ready: list[int] = Field(description="units serving each minute")


class Trajectory(_Body):
    demand: list[float] = Field(description="requests each minute, from first_minute on")
    current: Units
    proposed: Units


class BacktestResponse(_Body):
    target: str
    metric: CustomMetric = Field(
        description="the demand: the request count read per minute, or the utilization it is derived from"
    )
    serving_metric: CustomMetric | None = Field(
        default=None, description="the units serving per minute, when the demand is derived from a utilization"
    )
    demand_formula: str = Field(description="how a minute's requests come from the metrics read")
    days: int
    first_minute: AwareDatetime
    last_minute: AwareDatetime
    minutes: int = Field(description="minutes replayed, first_minute to last_minute")
    missing_minutes: int = Field(
        description="minutes without a datapoint: 0 requests for a request count, the previous minute's when derived"
    )
    world: WorldFigures
    current: PolicyRun
    proposed: PolicyRun
    comparison: Comparison
    trajectory: Trajectory | None = None
