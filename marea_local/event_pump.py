"""Marea's local event pump: what CloudWatch and EventBridge would do, against the embedded AWS.

moto keeps alarms and metric data but never evaluates an alarm, and its EventBridge never invokes
a Lambda nor fires a schedule (docs/local-event-pump.md). Each ``step`` therefore reads every metric alarm,
evaluates it from its metric data (chalicelib/alarm_evaluation.py), records a state change with SetAlarmState so
DescribeAlarms agrees, delivers the "CloudWatch Alarm State Change" event, then delivers the
schedule ticks that fell due on the clock.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.alarm_evaluation import AlarmDefinition, evaluate
from chalicelib.models.signals import AlarmState
from marea_local.events import DEFAULT_ACCOUNT, alarm_state_change_event, scheduled_tick_event
from marea_local.metric_data import fetch_datapoints

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef

logger = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], None]
Clock = Callable[[], datetime]

DEFAULT_TICK_EVERY_S = 60
DEFAULT_TICK_RULE_NAME = "marea-local-tick"
# A simulated clock may jump hours ahead; beyond this many ticks in one step the oldest are skipped.
MAX_TICKS_PER_STEP = 60
# moto creates alarms in OK with this reason; CloudWatch creates them in INSUFFICIENT_DATA.
INITIAL_ALARM_REASON = "Unchecked: Initial alarm creation"
# SetAlarmState: StateReason is at most 1023 characters.
MAX_STATE_REASON_LENGTH = 1023
# How often CloudWatch evaluates an alarm (user guide, "Using Amazon CloudWatch alarms"): "If the alarm period
# is 10 seconds or 30 seconds, the alarm is evaluated every 10 seconds", once a minute for any other. The guide
# predates 20 s periods (PutMetricAlarm takes 10, 20, 30): a 20 s alarm is assumed evaluated every 10 s too.
HIGH_RESOLUTION_EVALUATION_S = 10
STANDARD_EVALUATION_S = 60


def evaluation_interval_s(period_s: int) -> int:
    """Seconds between two evaluations of an alarm of this period, as CloudWatch schedules them."""
    return HIGH_RESOLUTION_EVALUATION_S if period_s < 60 else STANDARD_EVALUATION_S


class DeliveryKind(StrEnum):
    ALARM = "alarm"
    TICK = "tick"


@dataclass(frozen=True)
class Delivery:
    """One event handed to a delivery callable; ``error`` says why it failed, None if it did not."""

    kind: DeliveryKind
    event: dict[str, Any]
    error: str | None = None

    @property
    def event_id(self) -> str:
        return str(self.event["id"])

    @property
    def delivered(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.kind is DeliveryKind.ALARM:
            detail = self.event["detail"]
            what = f"alarm {detail['alarmName']} {detail['previousState']['value']} -> {detail['state']['value']}"
        else:
            what = f"tick {self.event['time']}"
        outcome = "" if self.error is None else f" FAILED: {self.error}"
        return f"{what} (event {self.event_id}){outcome}"


@dataclass(frozen=True)
class StepReport:
    """What one step did, for a caller to print or assert on."""

    at: datetime
    deliveries: list[Delivery] = field(default_factory=list)
    skipped_alarms: list[str] = field(default_factory=list)  # why each unsupported alarm was skipped

    @property
    def alarm_events(self) -> list[dict[str, Any]]:
        return [d.event for d in self.deliveries if d.kind is DeliveryKind.ALARM and d.delivered]

    @property
    def tick_events(self) -> list[dict[str, Any]]:
        return [d.event for d in self.deliveries if d.kind is DeliveryKind.TICK and d.delivered]

    def lines(self) -> list[str]:
        return [delivery.describe() for delivery in self.deliveries] + [
            f"skipped {reason}" for reason in self.skipped_alarms
        ]


@dataclass(frozen=True)
class _KnownState:
    """The pump's memory of one alarm: what the previousState of its next event will say."""

    value: AlarmState
    reason: str
    reason_data: dict[str, Any] | None
    since: datetime


class EventPump:
    """Evaluates alarms and delivers EventBridge events, one ``step`` at a time.

    ``clock`` supplies ``now`` when a step is not given one, so a demo can run simulated time.
    A delivery that raises is logged with its event id and not retried; the pump carries on.
    """

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        deliver_alarm_event: Deliver,
        deliver_tick: Deliver,
        clock: Clock,
        *,
        tick_every_s: int = DEFAULT_TICK_EVERY_S,
        tick_rule_arn: str | None = None,
        phase_s: int = 0,
    ) -> None:
        """``phase_s``: the second of each interval at which alarms are evaluated and the schedule ticks (0: on
        its start). Where in a minute CloudWatch evaluates and a rate schedule fires is not published."""
        if tick_every_s < 1:
            raise ValueError("tick_every_s must be at least 1")
        if not 0 <= phase_s < STANDARD_EVALUATION_S:
            raise ValueError(f"phase_s must be in [0, {STANDARD_EVALUATION_S})")
        self._phase_s = phase_s
        self._cloudwatch = cloudwatch
        self._deliver_alarm_event = deliver_alarm_event
        self._deliver_tick = deliver_tick
        self._clock = clock
        self._tick_every_s = tick_every_s
        region = cloudwatch.meta.region_name
        self._tick_rule_arn = (
            tick_rule_arn or f"arn:aws:events:{region}:{DEFAULT_ACCOUNT}:rule/{DEFAULT_TICK_RULE_NAME}"
        )
        self._known: dict[str, _KnownState] = {}
        # Per alarm, the evaluation slot (epoch seconds // its interval) it was last evaluated in.
        self._evaluated_in: dict[str, int] = {}
        self._last_tick: datetime | None = None

    @property
    def states(self) -> dict[str, AlarmState]:
        """The alarm states the pump believes in (the previousState of its next events)."""
        return {name: known.value for name, known in self._known.items()}

    def step(self, now: datetime | None = None) -> StepReport:
        """Evaluate the metric alarms due at ``now`` (default: the clock), then deliver due ticks. An alarm is due
        once per evaluation interval of CloudWatch's (``evaluation_interval_s``): a pump stepped every 10 s
        evaluates a high-resolution alarm at each step and any other at the first step of each minute.

        AWS errors propagate; alarms not yet handled keep their remembered state and undelivered
        ticks stay due, so the next step redoes exactly the missing work.
        """
        now = self._clock() if now is None else now
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the pump's clock must be timezone-aware, got {now.isoformat()}")
        described, skipped = self._describe_alarms(now)
        definitions = [d for d in described if self._slot(d, now) != self._evaluated_in.get(d.name)]
        datapoints = fetch_datapoints(self._cloudwatch, definitions, now) if definitions else {}
        deliveries = []
        for definition in definitions:
            delivery = self._evaluate(definition, datapoints[definition.name], now)
            self._evaluated_in[definition.name] = self._slot(definition, now)
            if delivery is not None:
                deliveries.append(delivery)
        for tick_time in self._due_ticks(now):
            event = scheduled_tick_event(self._tick_rule_arn, tick_time)
            deliveries.append(_deliver(DeliveryKind.TICK, event, self._deliver_tick))
        return StepReport(at=now, deliveries=deliveries, skipped_alarms=skipped)

    def run(
        self, stop: threading.Event, interval_s: float, on_step: Callable[[StepReport], None] | None = None
    ) -> None:
        """Step every ``interval_s`` wall-clock seconds until ``stop`` is set; AWS errors are
        logged and the next step tries again."""
        while not stop.is_set():
            try:
                report = self.step()
            except (BotoCoreError, ClientError):
                logger.exception("event pump step failed; next attempt in %s s", interval_s)
            else:
                if on_step is not None:
                    on_step(report)
            stop.wait(interval_s)

    def _describe_alarms(self, now: datetime) -> tuple[list[AlarmDefinition], list[str]]:
        """Every metric alarm this pump can evaluate; learns new alarms and forgets deleted ones."""
        definitions: list[AlarmDefinition] = []
        skipped: list[str] = []
        seen: set[str] = set()
        for page in self._cloudwatch.get_paginator("describe_alarms").paginate():
            for alarm in page.get("MetricAlarms", []):
                seen.add(alarm["AlarmName"])
                try:
                    definition = AlarmDefinition.from_metric_alarm(alarm)
                except ValueError as exc:
                    skipped.append(str(exc))
                    continue
                definitions.append(definition)
                if definition.name not in self._known:
                    self._known[definition.name] = self._seed(alarm, now)
        for name in set(self._known) - seen:
            del self._known[name]
            self._evaluated_in.pop(name, None)
        return definitions, skipped

    def _slot(self, definition: AlarmDefinition, now: datetime) -> int:
        return (int(now.timestamp()) - self._phase_s) // evaluation_interval_s(definition.period_s)

    def _seed(self, alarm: MetricAlarmTypeDef, now: datetime) -> _KnownState:
        state = AlarmState(alarm["StateValue"])
        reason = alarm.get("StateReason", "")
        since = alarm.get("StateUpdatedTimestamp") or now
        if state is AlarmState.OK and reason == INITIAL_ALARM_REASON:
            # Put the alarm where CloudWatch would have created it, silently: creation is no state change.
            self._cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue=AlarmState.INSUFFICIENT_DATA.value, StateReason=reason
            )
            return _KnownState(AlarmState.INSUFFICIENT_DATA, reason, None, since)
        return _KnownState(state, reason, _decode_reason_data(alarm.get("StateReasonData")), since)

    def _evaluate(
        self, definition: AlarmDefinition, datapoints: list[tuple[datetime, float]], now: datetime
    ) -> Delivery | None:
        known = self._known[definition.name]
        evaluation = evaluate(definition, datapoints, now, known.value)
        if evaluation.state is known.value:
            return None
        # CloudWatch changes the state first and then emits the event: a handler that calls
        # DescribeAlarms on receipt sees the new state.
        self._cloudwatch.set_alarm_state(
            AlarmName=definition.name,
            StateValue=evaluation.state.value,
            StateReason=evaluation.reason[:MAX_STATE_REASON_LENGTH],
            StateReasonData=json.dumps(evaluation.reason_data, separators=(",", ":")),
        )
        account, region = _account_and_region(definition.arn)
        event = alarm_state_change_event(
            definition,
            evaluation,
            known.value,
            known.reason,
            time=now,
            account=account,
            region=region,
            previous_reason_data=known.reason_data,
            previous_timestamp=known.since,
        )
        self._known[definition.name] = _KnownState(evaluation.state, evaluation.reason, evaluation.reason_data, now)
        return _deliver(DeliveryKind.ALARM, event, self._deliver_alarm_event)

    def _due_ticks(self, now: datetime) -> list[datetime]:
        """Tick times on multiples of ``tick_every_s`` since the last tick, up to ``now``; the
        first step delivers only the latest one (a schedule fires from when it is created)."""
        every = self._tick_every_s
        epoch_s = int(now.timestamp()) - self._phase_s
        latest = datetime.fromtimestamp(epoch_s - epoch_s % every + self._phase_s, tz=UTC)
        if self._last_tick is None:
            due = [latest]
        else:
            count = int((latest - self._last_tick).total_seconds()) // every
            due = [self._last_tick + timedelta(seconds=every * index) for index in range(1, count + 1)]
        if len(due) > MAX_TICKS_PER_STEP:
            logger.warning("clock jumped: skipping %d schedule ticks", len(due) - MAX_TICKS_PER_STEP)
            due = due[-MAX_TICKS_PER_STEP:]
        if due:
            self._last_tick = due[-1]
        return due


def _deliver(kind: DeliveryKind, event: dict[str, Any], deliver: Deliver) -> Delivery:
    try:
        deliver(event)
    except Exception as exc:
        # The outer boundary of a delivery: whatever the handler raised, log it and carry on.
        logger.exception(
            "delivery of %s event %s failed", kind, event["id"], extra={"event_id": event["id"], "kind": str(kind)}
        )
        return Delivery(kind, event, error=f"{type(exc).__name__}: {exc}")
    return Delivery(kind, event)


def _account_and_region(alarm_arn: str) -> tuple[str, str]:
    """From arn:aws:cloudwatch:<region>:<account>:alarm:<name>."""
    parts = alarm_arn.split(":", 6)
    if len(parts) < 7 or parts[2] != "cloudwatch":
        raise ValueError(f"not a CloudWatch alarm ARN: {alarm_arn!r}")
    return parts[4], parts[3]


def _decode_reason_data(raw: str | None) -> dict[str, Any] | None:
    """DescribeAlarms' StateReasonData, when it is a JSON object with content."""
    if not raw:
        return None
    try:
        decoded = json.loads(raw)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) and decoded else None
