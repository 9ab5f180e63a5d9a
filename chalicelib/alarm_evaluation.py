"""Evaluate a CloudWatch metric alarm from its datapoints, the way CloudWatch documents it. PURE.

Sources (CloudWatch user guide): "Evaluating an alarm" (period, evaluation periods, datapoints to
alarm: M out of N) and "Configuring how CloudWatch alarms treat missing data" (the evaluation
range, the missing-data treatments and their example tables, and "avoiding premature transitions
to alarm state"). No boto3, no clock: the caller passes the datapoints and ``now``.

One implementation for both places that evaluate alarms without CloudWatch: the local event pump
(marea_local/event_pump.py, on the embedded AWS) and a backtest replaying step policies
(chalicelib/backtest/alarm_replay.py, on the replayed metric).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.models.signals import AlarmState

# The four static-threshold operators (anomaly-detection bands are not supported). The enum lives with
# the engine's models: Marea reads the operator back from the state reason this module writes.
from chalicelib.models.signals import ComparisonOperator as ComparisonOperator

# CloudWatch reads more periods than EvaluationPeriods (the "evaluation range") so that real
# datapoints just before the last N periods still count when newer ones are missing. The guide does
# not publish the formula; its example tables read the 5 most recent datapoints for 3 periods.
EVALUATION_RANGE_EXTRA_PERIODS = 2
# "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data."
ALWAYS_IGNORE_MISSING_NAMESPACES = frozenset({"AWS/DynamoDB"})
REASON_DATA_VERSION = "1.0"
# A state reason names the newest datapoints only; SetAlarmState caps StateReason at 1023 characters.
MAX_LISTED_DATAPOINTS = 10


class TreatMissingData(StrEnum):
    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


class UnsupportedAlarmError(ValueError):
    """An alarm this evaluator does not reproduce (metric math, anomaly detection, composite)."""


class AlarmDefinition(BaseModel):
    """What evaluating one single-metric alarm needs, as DescribeAlarms reports it."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    arn: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    metric_name: str = Field(min_length=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str = Field(min_length=1, description="Statistic, or ExtendedStatistic such as p99")
    unit: str | None = None
    period_s: int = Field(gt=0)
    evaluation_periods: int = Field(ge=1)
    datapoints_to_alarm: int = Field(ge=1)
    threshold: float
    comparison_operator: ComparisonOperator
    treat_missing_data: TreatMissingData = TreatMissingData.MISSING
    description: str | None = None

    @model_validator(mode="after")
    def _m_of_n(self) -> Self:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        if not math.isfinite(self.threshold):
            raise ValueError("threshold must be finite")
        return self

    @classmethod
    def from_metric_alarm(cls, alarm: Mapping[str, Any]) -> AlarmDefinition:
        """From one ``MetricAlarms`` entry of boto3 ``describe_alarms``.

        Raises UnsupportedAlarmError for alarms this evaluator cannot reproduce, and pydantic's
        ValidationError (a ValueError too) for an entry that is not a valid alarm.
        """
        unsupported = _unsupported_reason(alarm)
        if unsupported:
            raise UnsupportedAlarmError(f"alarm {alarm.get('AlarmName', '?')!r}: {unsupported}")
        evaluation_periods = int(alarm["EvaluationPeriods"])
        return cls(
            name=alarm["AlarmName"],
            arn=alarm["AlarmArn"],
            namespace=alarm["Namespace"],
            metric_name=alarm["MetricName"],
            dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            statistic=alarm.get("Statistic") or alarm["ExtendedStatistic"],
            unit=alarm.get("Unit"),
            period_s=int(alarm["Period"]),
            evaluation_periods=evaluation_periods,
            # DescribeAlarms omits DatapointsToAlarm when it equals EvaluationPeriods (N of N).
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or evaluation_periods),
            threshold=float(alarm["Threshold"]),
            comparison_operator=ComparisonOperator(alarm["ComparisonOperator"]),
            treat_missing_data=TreatMissingData(alarm.get("TreatMissingData") or TreatMissingData.MISSING),
            description=alarm.get("AlarmDescription"),
        )

    @property
    def effective_treat_missing_data(self) -> TreatMissingData:
        if self.namespace in ALWAYS_IGNORE_MISSING_NAMESPACES:
            return TreatMissingData.IGNORE
        return self.treat_missing_data

    @property
    def range_periods(self) -> int:
        """How many periods CloudWatch reads for one evaluation (N + the documented extra)."""
        return self.evaluation_periods + EVALUATION_RANGE_EXTRA_PERIODS


def _unsupported_reason(alarm: Mapping[str, Any]) -> str | None:
    if alarm.get("Metrics"):
        return "metric math alarms (Metrics) are not evaluated"
    if alarm.get("ThresholdMetricId"):
        return "anomaly detection alarms are not evaluated"
    if alarm.get("ComparisonOperator") not in ComparisonOperator.__members__.values():
        return f"comparison operator {alarm.get('ComparisonOperator')!r} is not supported"
    required = ("AlarmName", "AlarmArn", "Namespace", "MetricName", "Period", "EvaluationPeriods", "Threshold")
    absent = [key for key in required if alarm.get(key) is None]
    if not (alarm.get("Statistic") or alarm.get("ExtendedStatistic")):
        absent.append("Statistic")
    return f"missing {', '.join(absent)}" if absent else None


class AlarmEvaluation(BaseModel):
    """The state CloudWatch would set, with its state reason and reasonData (as a dict)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    state: AlarmState
    reason: str
    reason_data: dict[str, Any]


def evaluation_range(definition: AlarmDefinition, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the complete periods evaluated at ``now``; boundaries are multiples of the
    period since the epoch, which is where GetMetricData puts them when StartTime is aligned."""
    _require_aware("now", now)
    period = definition.period_s
    end = _epoch(int(now.timestamp()) // period * period)
    return end - timedelta(seconds=period * definition.range_periods), end


def evaluate(
    definition: AlarmDefinition,
    datapoints: Sequence[tuple[datetime, float]],
    now: datetime,
    previous_state: AlarmState,
) -> AlarmEvaluation:
    """The alarm's state at ``now`` given one aggregated datapoint per period (GetMetricData's output).

    Datapoints outside the evaluation range (older, or in the period still in progress) are ignored.
    """
    slots = _slots(definition, datapoints, now)
    real = [slot for slot in slots if slot.value is not None]
    n = definition.evaluation_periods
    treat = definition.effective_treat_missing_data
    if len(real) >= n:
        # Enough real datapoints: the most recent N decide and the missing-data setting is unused.
        outcome = _judge(definition, real[-n:], previous_state)
    elif not real:
        outcome = _judge_no_data(definition, slots[-n:], treat, previous_state)
    elif treat in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        outcome = _judge(definition, _fill(slots, real, n, treat), previous_state)
    else:
        outcome = _judge_partial(definition, slots, real, treat, previous_state)
    return AlarmEvaluation(
        state=outcome.state,
        reason=outcome.reason,
        # With nothing evaluated, startDate is where the last N periods begin.
        reason_data=_reason_data(definition, outcome.evaluated, (outcome.evaluated or slots[-n:])[0].start, now),
    )


@dataclass(frozen=True)
class _Slot:
    """One period of the evaluation range: its start, its value, and whether a missing value was
    filled in by the missing-data treatment (``filled`` is then breaching or not)."""

    start: datetime
    value: float | None
    filled: TreatMissingData | None = None


@dataclass(frozen=True)
class _Outcome:
    state: AlarmState
    reason: str
    evaluated: list[_Slot]


def _slots(definition: AlarmDefinition, datapoints: Sequence[tuple[datetime, float]], now: datetime) -> list[_Slot]:
    start, end = evaluation_range(definition, now)
    values: dict[datetime, float] = {}
    for timestamp, value in datapoints:
        _require_aware("datapoint timestamp", timestamp)
        slot = _epoch(int(timestamp.timestamp()) // definition.period_s * definition.period_s)
        if not start <= slot < end:
            continue
        if slot in values:
            # Aggregating raw samples is CloudWatch's job (GetMetricData), not the evaluator's.
            raise ValueError(f"two datapoints in the period starting {slot.isoformat()}; pass one per period")
        values[slot] = float(value)
    period = timedelta(seconds=definition.period_s)
    starts = [start + period * index for index in range(definition.range_periods)]
    return [_Slot(slot_start, values.get(slot_start)) for slot_start in starts]


def _fill(slots: list[_Slot], real: list[_Slot], n: int, treat: TreatMissingData) -> list[_Slot]:
    """All real datapoints plus as few filled-in ones as make N, taking the newest missing periods."""
    missing = [slot for slot in slots if slot.value is None][-(n - len(real)) :]
    filled = [_Slot(slot.start, None, treat) for slot in missing]
    return sorted(real + filled, key=lambda slot: slot.start)


def _breaching(definition: AlarmDefinition, slot: _Slot) -> bool:
    if slot.value is None:
        return slot.filled is TreatMissingData.BREACHING
    return definition.comparison_operator.breaches(slot.value, definition.threshold)


def _judge(definition: AlarmDefinition, evaluated: list[_Slot], previous: AlarmState) -> _Outcome:
    """M out of N: ALARM when at least M evaluated datapoints breach, OK otherwise."""
    breaching = [slot for slot in evaluated if _breaching(definition, slot)]
    if len(breaching) >= definition.datapoints_to_alarm:
        minimum = definition.datapoints_to_alarm
        reason = _crossed(definition, breaching, len(evaluated), previous, AlarmState.ALARM, minimum)
        return _Outcome(AlarmState.ALARM, reason, evaluated)
    within = [slot for slot in evaluated if not _breaching(definition, slot)]
    # Leaving ALARM needs N - M + 1 datapoints within the threshold: then M can no longer breach.
    minimum = definition.evaluation_periods - definition.datapoints_to_alarm + 1
    reason = _crossed(definition, within, len(evaluated), previous, AlarmState.OK, minimum)
    return _Outcome(AlarmState.OK, reason, evaluated)


def _judge_no_data(
    definition: AlarmDefinition, newest: list[_Slot], treat: TreatMissingData, previous: AlarmState
) -> _Outcome:
    """Every datapoint of the evaluation range is missing: the treatment alone decides."""
    n = len(newest)
    if treat is TreatMissingData.MISSING:
        reason = f"Insufficient Data: {_count(n, 'datapoint')} {_verb(n)} unknown."
        return _Outcome(AlarmState.INSUFFICIENT_DATA, reason, [])
    if treat is TreatMissingData.IGNORE:
        return _Outcome(previous, f"Missing data ignored: no datapoints in the evaluation range; {previous} kept.", [])
    filled = [_Slot(slot.start, None, treat) for slot in newest]
    state = AlarmState.ALARM if treat is TreatMissingData.BREACHING else AlarmState.OK
    reason = (
        f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
        f"{_count(n, 'missing datapoint')} {_verb(n)} treated as [{_treated_as(treat)}]."
    )
    return _Outcome(state, reason, filled)


def _judge_partial(
    definition: AlarmDefinition, slots: list[_Slot], real: list[_Slot], treat: TreatMissingData, previous: AlarmState
) -> _Outcome:
    """Fewer than N real datapoints with 'missing' or 'ignore': only the real ones are evaluated."""
    breaching = [slot for slot in real if _breaching(definition, slot)]
    if len(breaching) >= definition.datapoints_to_alarm or len(breaching) < len(real):
        # M real breaches are an ALARM; one real datapoint within the threshold is an OK (the
        # guide's tables: "0 - - - -" and "0 - X - -" are OK under both treatments).
        return _judge(definition, real, previous)
    n = definition.evaluation_periods
    if treat is TreatMissingData.IGNORE:
        reason = f"Missing data ignored: {len(real)} of {n} datapoints received, all breaching; {previous} kept."
        return _Outcome(previous, reason, real)
    # "Avoiding premature transitions to alarm state": ALARM when the oldest breaching datapoint is
    # at least M periods old and every newer one is breaching or missing; otherwise too early to say.
    age = len(slots) - slots.index(breaching[0])
    if age >= definition.datapoints_to_alarm:
        reason = _crossed(
            definition, breaching, n, previous, AlarmState.ALARM, definition.datapoints_to_alarm, newer_missing=True
        )
        return _Outcome(AlarmState.ALARM, reason, real)
    listed = _listed(definition, breaching, n)
    missing = n - len(real)
    reason = f"Insufficient Data: {_count(missing, 'datapoint')} {_verb(missing)} unknown; {listed}."
    return _Outcome(AlarmState.INSUFFICIENT_DATA, reason, real)


def _crossed(
    definition: AlarmDefinition,
    matching: list[_Slot],
    out_of: int,
    previous: AlarmState,
    new: AlarmState,
    minimum: int,
    *,
    newer_missing: bool = False,
) -> str:
    """CloudWatch's sentence, e.g. "Threshold Crossed: 3 out of the last 3 datapoints [91.0
    (24/11/26 10:02:00), ...] were greater than the threshold (70.0) (minimum 3 datapoints for
    OK -> ALARM transition)." Filled-in datapoints are counted separately, as CloudWatch does."""
    real = [slot for slot in matching if slot.value is not None]
    filled = [slot.filled for slot in matching if slot.filled is not None]
    parts = []
    if real:
        parts.append(_listed(definition, real, out_of, negate=new is AlarmState.OK))
    if filled:
        count = len(filled)
        parts.append(f"{_count(count, 'missing datapoint')} {_verb(count)} treated as [{_treated_as(filled[0])}]")
    if newer_missing:
        parts.append("the newer datapoints are missing")
    transition = f"(minimum {_count(minimum, 'datapoint')} for {previous} -> {new} transition)"
    return f"Threshold Crossed: {' and '.join(parts)} {transition}."


def _listed(definition: AlarmDefinition, real: list[_Slot], out_of: int, *, negate: bool = False) -> str:
    shown = [f"{slot.value!r} ({slot.start:%d/%m/%y %H:%M:%S})" for slot in reversed(real)]
    newest_first = ", ".join(shown[:MAX_LISTED_DATAPOINTS] + (["..."] if len(shown) > MAX_LISTED_DATAPOINTS else []))
    comparison = f"{'not ' if negate else ''}{definition.comparison_operator.phrase}"
    return (
        f"{len(real)} out of the last {out_of} datapoints [{newest_first}] {_verb(len(real))} "
        f"{comparison} the threshold ({definition.threshold!r})"
    )


def _treated_as(treat: TreatMissingData) -> str:
    return "Breaching" if treat is TreatMissingData.BREACHING else "NonBreaching"


def _reason_data(definition: AlarmDefinition, evaluated: list[_Slot], start: datetime, now: datetime) -> dict[str, Any]:
    """CloudWatch's reasonData: recentDatapoints oldest first, evaluatedDatapoints newest first,
    a filled-in datapoint listed with its timestamp only."""
    points: list[dict[str, Any]] = []
    for slot in reversed(evaluated):
        point: dict[str, Any] = {"timestamp": cloudwatch_timestamp(slot.start)}
        if slot.value is not None:
            point["value"] = slot.value
        points.append(point)
    return {
        "version": REASON_DATA_VERSION,
        "queryDate": cloudwatch_timestamp(now),
        "startDate": cloudwatch_timestamp(start),
        "statistic": definition.statistic,
        "period": definition.period_s,
        "recentDatapoints": [slot.value for slot in evaluated if slot.value is not None],
        "threshold": definition.threshold,
        "evaluatedDatapoints": points,
    }


def cloudwatch_timestamp(moment: datetime) -> str:
    """CloudWatch's timestamp form in reasonData and alarm states: 2019-10-02T17:04:40.985+0000."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _verb(number: int) -> str:
    return "was" if number == 1 else "were"


def _epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _require_aware(what: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")
