"""Models of the events Marea's Lambdas receive, and the one function that parses them.

EventBridge envelopes subclass Powertools' ``EventBridgeModel`` (Powertools ships no model for the
"CloudWatch Alarm State Change" event). AWS adds fields over time, so event models ignore extras
and require only what Marea reads; the SQS fan-out message is Marea's own format and is strict.
The alarm event format is the one in the CloudWatch user guide, "Alarm events and EventBridge".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Json,
    ValidationError,
    model_validator,
)

from chalicelib.constants import TARGET_ID_PATTERN
from chalicelib.errors import MalformedEventError
from chalicelib.models.decisions import TriggerType
from chalicelib.models.signals import AlarmObservation, AlarmState, ComparisonOperator

ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
SCHEDULE_SOURCE = "aws.events"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"

# How many field errors a MalformedEventError message lists before "and N more".
_ERRORS_SHOWN = 3
# Times Marea can turn into decision ids (ULIDs start in 1970) and retention times (+ up to 10 years).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _plausible(at: datetime) -> datetime:
    if not _EARLIEST <= at < _LATEST:
        raise ValueError("must be between 1970 and 9000")
    return at


EventTime = Annotated[AwareDatetime, AfterValidator(_plausible)]


class AwsPart(BaseModel):
    """A piece of an AWS-made event: AWS may add fields, so extras are ignored."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore", populate_by_name=True)


class AlarmMetric(AwsPart):
    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)


class AlarmMetricStat(AwsPart):
    metric: AlarmMetric
    period: int = Field(gt=0)
    stat: str
    unit: str | None = None


class AlarmMetricQuery(AwsPart):
    """One entry of ``configuration.metrics``: a metric, or a math expression over metrics."""

    id: str
    metric_stat: AlarmMetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = None
    label: str | None = None
    return_data: bool = Field(default=True, alias="returnData")


class AlarmConfiguration(AwsPart):
    description: str | None = None
    # Composite alarms have an alarmRule and no metrics; metric alarms always list theirs.
    metrics: list[AlarmMetricQuery] = Field(default_factory=list)


class EvaluatedDatapoint(AwsPart):
    timestamp: EventTime
    sample_count: float | None = Field(default=None, alias="sampleCount")
    # CloudWatch lists a filled-in missing datapoint with its timestamp and no value.
    value: float | None = None


class AlarmReasonData(AwsPart):
    """``state.reasonData`` once decoded. Auto Scaling reads it to pick a step (SetAlarmState docs)."""

    version: str | None = None
    query_date: AwareDatetime | None = Field(default=None, alias="queryDate")
    start_date: AwareDatetime | None = Field(default=None, alias="startDate")
    statistic: str | None = None
    period: int | None = None
    recent_datapoints: list[float] = Field(default_factory=list, alias="recentDatapoints")
    threshold: float | None = None
    evaluated_datapoints: list[EvaluatedDatapoint] = Field(default_factory=list, alias="evaluatedDatapoints")

    @property
    def latest_evaluated(self) -> EvaluatedDatapoint | None:
        """The most recent evaluated datapoint that has a value (CloudWatch lists newest first,
        but the order is not documented, so the timestamp decides)."""
        with_value = [point for point in self.evaluated_datapoints if point.value is not None]
        return max(with_value, key=lambda point: point.timestamp, default=None)


class AlarmStateDetail(AwsPart):
    value: AlarmState
    reason: str
    # A JSON document inside a string in real events; absent for some alarm kinds (composite).
    reason_data: Json[AlarmReasonData] | None = Field(default=None, alias="reasonData")
    timestamp: AwareDatetime


class AlarmStateChangeDetail(AwsPart):
    alarm_name: str = Field(alias="alarmName", min_length=1, max_length=255)
    state: AlarmStateDetail
    previous_state: AlarmStateDetail = Field(alias="previousState")
    configuration: AlarmConfiguration


class AlarmStateChangeEvent(EventBridgeModel):
    """EventBridge "CloudWatch Alarm State Change" (source ``aws.cloudwatch``)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore", populate_by_name=True)

    # Powertools types these as plain str / naive-tolerant datetime; Marea needs them exact.
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    time: EventTime
    detail: AlarmStateChangeDetail

    @property
    def alarm_name(self) -> str:
        return self.detail.alarm_name

    @property
    def alarm_arn(self) -> str | None:
        return self.resources[0] if self.resources else None

    @property
    def reason_data(self) -> AlarmReasonData | None:
        """The new state's decoded reasonData, None when the event carries none."""
        return self.detail.state.reason_data

    @property
    def threshold(self) -> float | None:
        return None if self.reason_data is None else self.reason_data.threshold

    @property
    def latest_value(self) -> float | None:
        """The newest evaluated metric value: step scaling measures its breach from it."""
        latest = None if self.reason_data is None else self.reason_data.latest_evaluated
        return None if latest is None else latest.value

    def to_observation(self) -> AlarmObservation:
        """What the engine sees of this alarm: state, latest value, threshold and comparison operator.

        The event carries no ComparisonOperator field; CloudWatch's state reason words it ("... was
        less than or equal to the threshold (30.0) ..."), so it is read from there. A reason that names
        no datapoint (all missing, or insufficient data) leaves it unknown; the step policy then goes by
        the value (docs/aws-semantics.md, "Step bounds and the alarm's comparison operator").
        """
        latest = None if self.reason_data is None else self.reason_data.latest_evaluated
        return AlarmObservation(
            name=self.alarm_name,
            state=self.detail.state.value,
            threshold=self.threshold,
            value=None if latest is None else latest.value,
            timestamp=None if latest is None else latest.timestamp,
            comparison=comparison_in_reason(self.detail.state.reason),
        )


# "3 out of the last 3 datapoints [...] were greater than the threshold (70.0)", or "was not less than
# or equal to the threshold" in an OK reason: the operator's phrase stands between the verb and "the threshold".
_REASON_COMPARISON = re.compile(
    r"\b(?:was|were) (?:not )?("
    + "|".join(sorted((re.escape(o.phrase) for o in ComparisonOperator), key=len, reverse=True))
    + r") the threshold\b"
)
_OPERATOR_BY_PHRASE = {operator.phrase: operator for operator in ComparisonOperator}


def comparison_in_reason(reason: str) -> ComparisonOperator | None:
    """The comparison operator a CloudWatch state reason words, None when it names none."""
    found = _REASON_COMPARISON.search(reason)
    return None if found is None else _OPERATOR_BY_PHRASE[found.group(1)]


class ScheduledTickEvent(EventBridgeModel):
    """EventBridge "Scheduled Event" from a schedule rule (source ``aws.events``, empty detail)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore", populate_by_name=True)

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    time: EventTime
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def rule_arn(self) -> str | None:
        return self.resources[0] if self.resources else None


class TaskContainerState(AwsPart):
    name: str
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: str | None = None


class TaskStateDetail(AwsPart):
    task_arn: str = Field(alias="taskArn", min_length=1)
    cluster_arn: str | None = Field(default=None, alias="clusterArn")
    last_status: str = Field(alias="lastStatus")
    group: str | None = None
    started_by: str | None = Field(default=None, alias="startedBy")
    stopped_reason: str | None = Field(default=None, alias="stoppedReason")
    containers: list[TaskContainerState] = Field(default_factory=list)

    @property
    def exit_code(self) -> int | None:
        """The task's exit code: the first non-zero container exit code, else 0, None when unknown."""
        codes = [c.exit_code for c in self.containers if c.exit_code is not None]
        if not codes:
            return None
        return next((code for code in codes if code != 0), 0)


class TaskStateChangeEvent(EventBridgeModel):
    """EventBridge "ECS Task State Change" (source ``aws.ecs``): how a kops runner reports back."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore", populate_by_name=True)

    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")
    time: EventTime
    detail: TaskStateDetail


# Targets one fan-out message carries: BatchGetItem and DescribeAutoScalingGroups take 100 per call.
TARGETS_PER_MESSAGE = 100

TargetId = Annotated[str, Field(pattern=TARGET_ID_PATTERN)]


class EvaluationMessage(BaseModel):
    """Body of the SQS fan-out message: "evaluate these targets because of that event".

    Marea writes and reads it, so nothing unknown or coerced gets in. Strict mode means Python
    callers pass real ``datetime`` and ``TriggerType`` values; a JSON body (str) is the wire form.
    ``target_ids`` is the tick's share evaluated together (docs/scaling-marea.md); ``target_id``
    alone is the one-target message of Marea versions before batched reads, still read so that
    messages queued across an upgrade are evaluated.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", strict=True)

    target_ids: tuple[TargetId, ...] = Field(default=(), max_length=TARGETS_PER_MESSAGE)
    target_id: TargetId | None = None
    trigger_type: TriggerType
    event_id: str = Field(min_length=1, max_length=256)
    at: EventTime

    @model_validator(mode="after")
    def _names_targets_once(self) -> EvaluationMessage:
        if bool(self.target_ids) == (self.target_id is not None):
            raise ValueError("give either target_ids (1 to 100 ids) or target_id, not both")
        return self

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets to evaluate, in the order the tick listed them."""
        return self.target_ids or ((self.target_id,) if self.target_id is not None else ())


ModelT = TypeVar("ModelT", bound=BaseModel)


class _EventIdProbe(BaseModel):
    """Reads only the ids out of a JSON document that failed validation."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: str | None = None
    event_id: str | None = None


def parse_event(model: type[ModelT], raw: Mapping[str, Any] | str | bytes) -> ModelT:
    """Validate ``raw`` (a decoded event, or a JSON document such as an SQS body) as ``model``.

    Raises MalformedEventError naming the event id and the first field errors, never the payload:
    the message goes to logs and to the decision record.
    """
    try:
        if isinstance(raw, str | bytes):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEventError(_describe_failure(model, raw, exc)) from exc


def _describe_failure(model: type[BaseModel], raw: object, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    shown = "; ".join(f"{_location(error['loc'])}: {error['msg']}" for error in errors[:_ERRORS_SHOWN])
    more = len(errors) - _ERRORS_SHOWN
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"malformed {model.__name__} event {_event_id(raw)!r}: {shown}{suffix}"


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(event)"


def _event_id(raw: object) -> str:
    """The id to log: EventBridge's ``id``, or the fan-out message's ``event_id``."""
    if isinstance(raw, str | bytes):
        try:
            raw = _EventIdProbe.model_validate_json(raw).model_dump()
        except ValidationError:
            return "unknown"
    if isinstance(raw, Mapping):
        for key in ("id", "event_id"):
            value = raw.get(key)
            if isinstance(value, str) and value:
                return value
    return "unknown"
