"""The event pump against the embedded AWS: moto in server mode on 127.0.0.1, boto3 over HTTP.

Given an alarm and metric data in CloudWatch, when the pump steps, then it delivers the state
change CloudWatch would emit, records the state so DescribeAlarms agrees, and ticks the schedule.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.models.events import AlarmStateChangeEvent, ScheduledTickEvent, parse_event
from chalicelib.models.signals import AlarmState
from marea_local.event_pump import EventPump, StepReport

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef

pytestmark = pytest.mark.integration

REGION = "us-east-1"
NAMESPACE = "Marea/Test"
DIMENSIONS: list[DimensionTypeDef] = [{"Name": "AutoScalingGroupName", "Value": "web"}]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()  # port=0: the OS picked a free port
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def cloudwatch(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> CloudWatchClient:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310 - loopback only
    with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - loopback only
        pass
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_url)
    client.meta.events.register("before-send.*.*", _only_loopback(moto_url))
    return client


def _only_loopback(moto_url: str) -> Any:
    expected = urlsplit(moto_url).netloc

    def check(request: Any, **_: Any) -> None:
        assert urlsplit(request.url).netloc == expected, f"request left the embedded AWS: {request.url}"

    return check


class Recorder:
    """Collects delivered events; can be told to fail, like a handler that raises."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def __call__(self, event: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("handler exploded")
        self.events.append(event)


def this_minute() -> datetime:
    """The start of the current minute: put_metric_data timestamps must be recent for CloudWatch."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def put_alarm(
    cloudwatch: CloudWatchClient, name: str = "web-cpu-high", period_s: int = 60, evaluation_periods: int = 3
) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=NAMESPACE,
        MetricName="CPUUtilization",
        Dimensions=DIMENSIONS,
        Statistic="Average",
        Period=period_s,
        EvaluationPeriods=evaluation_periods,
        Threshold=70.0,
        ComparisonOperator="GreaterThanThreshold",
    )


def put_minutes(cloudwatch: CloudWatchClient, first_minute: datetime, values: list[float]) -> None:
    """One datapoint per minute from ``first_minute``, a few seconds into each minute."""
    _put_points(cloudwatch, first_minute + timedelta(seconds=7), values, every=timedelta(minutes=1))


def _put_points(
    cloudwatch: CloudWatchClient, first: datetime, values: list[float], every: timedelta, resolution: int = 60
) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": DIMENSIONS,
                "Timestamp": first + every * index,
                "Value": value,
                "StorageResolution": resolution,
            }
            for index, value in enumerate(values)
        ],
    )


def alarm_state(cloudwatch: CloudWatchClient, name: str = "web-cpu-high") -> str:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def test_alarm_goes_to_alarm_once_then_back_to_ok(cloudwatch: CloudWatchClient) -> None:
    minute = this_minute()
    now = minute + timedelta(seconds=30)
    put_alarm(cloudwatch)
    put_minutes(cloudwatch, minute - timedelta(minutes=3), [84.25, 88.5, 91.0])
    alarms, ticks = Recorder(), Recorder()
    pump = EventPump(cloudwatch, alarms, ticks, clock=lambda: now)

    first = pump.step()

    assert len(alarms.events) == 1
    event = parse_event(AlarmStateChangeEvent, alarms.events[0])
    assert event.alarm_name == "web-cpu-high"
    assert event.detail.state.value is AlarmState.ALARM
    # moto creates alarms in OK; the pump puts them where CloudWatch would: INSUFFICIENT_DATA.
    assert event.detail.previous_state.value is AlarmState.INSUFFICIENT_DATA
    assert (event.latest_value, event.threshold) == (91.0, 70.0)
    assert first.alarm_events == alarms.events
    described = cloudwatch.describe_alarms(AlarmNames=["web-cpu-high"])["MetricAlarms"][0]
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"] == event.detail.state.reason

    next_minute = pump.step(now + timedelta(seconds=40))  # evaluated again: the range still holds 3 breaches
    after = pump.step(now + timedelta(minutes=2))

    assert next_minute.alarm_events == after.alarm_events == []
    assert len(alarms.events) == 1

    put_minutes(cloudwatch, minute, [41.0, 38.5, 35.0])
    back = pump.step(now + timedelta(minutes=3))

    assert len(back.alarm_events) == 1
    ok = parse_event(AlarmStateChangeEvent, back.alarm_events[0])
    assert (ok.detail.previous_state.value, ok.detail.state.value) == (AlarmState.ALARM, AlarmState.OK)
    assert ok.detail.previous_state.reason == event.detail.state.reason
    assert ok.id != event.id
    assert alarm_state(cloudwatch) == "OK"


def test_alarm_without_data_goes_to_insufficient_data_silently(cloudwatch: CloudWatchClient) -> None:
    put_alarm(cloudwatch)
    alarms = Recorder()
    pump = EventPump(cloudwatch, alarms, Recorder(), clock=lambda: this_minute() + timedelta(seconds=30))

    pump.step()

    assert alarms.events == []  # creation is not a state change
    assert alarm_state(cloudwatch) == "INSUFFICIENT_DATA"
    assert pump.states == {"web-cpu-high": AlarmState.INSUFFICIENT_DATA}


def test_one_tick_per_interval_of_the_clock(cloudwatch: CloudWatchClient) -> None:
    start = this_minute() + timedelta(seconds=10)
    ticks = Recorder()
    pump = EventPump(cloudwatch, Recorder(), ticks, clock=lambda: start, tick_every_s=60)

    counts = [len(pump.step(start + timedelta(seconds=offset)).tick_events) for offset in (0, 30, 49, 50, 245)]

    assert counts == [1, 0, 0, 1, 3]
    times = [parse_event(ScheduledTickEvent, event).time for event in ticks.events]
    assert times == [start.replace(second=0) + timedelta(minutes=minute) for minute in range(5)]
    assert ticks.events[0]["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/marea-local-tick"]


def test_ticks_fall_at_the_pumps_phase_in_the_minute(cloudwatch: CloudWatchClient) -> None:
    minute = this_minute()
    ticks = Recorder()
    pump = EventPump(cloudwatch, Recorder(), ticks, clock=lambda: minute, phase_s=15)

    counts = [len(pump.step(minute + timedelta(seconds=offset)).tick_events) for offset in (20, 70, 74, 75)]

    assert counts == [1, 0, 0, 1]
    times = [parse_event(ScheduledTickEvent, event).time for event in ticks.events]
    assert times == [minute + timedelta(seconds=15), minute + timedelta(seconds=75)]


def test_a_failing_delivery_is_logged_and_the_pump_carries_on(
    cloudwatch: CloudWatchClient, caplog: pytest.LogCaptureFixture
) -> None:
    minute = this_minute()
    put_alarm(cloudwatch)
    put_minutes(cloudwatch, minute - timedelta(minutes=3), [95.0, 96.0, 97.0])
    alarms, ticks = Recorder(), Recorder()
    alarms.fail = True
    pump = EventPump(cloudwatch, alarms, ticks, clock=lambda: minute + timedelta(seconds=30))

    with caplog.at_level(logging.ERROR, logger="marea_local.event_pump"):
        report = pump.step()

    failed = [d for d in report.deliveries if not d.delivered]
    assert len(failed) == 1
    assert failed[0].error == "RuntimeError: handler exploded"
    assert failed[0].event_id in caplog.text
    assert len(ticks.events) == 1  # the tick after the failed alarm delivery still went out
    assert alarm_state(cloudwatch) == "ALARM"  # CloudWatch changed state; only the delivery failed
    assert any("FAILED" in line for line in report.lines())


def test_alarms_it_cannot_evaluate_are_skipped(cloudwatch: CloudWatchClient) -> None:
    cpu: MetricDataQueryTypeDef = {
        "Id": "m1",
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": "CPUUtilization", "Dimensions": DIMENSIONS},
            "Period": 60,
            "Stat": "Average",
        },
        "ReturnData": False,
    }
    doubled: MetricDataQueryTypeDef = {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}
    cloudwatch.put_metric_alarm(
        AlarmName="math",
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[cpu, doubled],
    )
    put_alarm(cloudwatch)

    report = EventPump(cloudwatch, Recorder(), Recorder(), clock=lambda: this_minute()).step()

    assert len(report.skipped_alarms) == 1
    assert "math" in report.skipped_alarms[0]
    assert "metric math" in report.skipped_alarms[0]


def test_run_steps_until_stopped(cloudwatch: CloudWatchClient) -> None:
    stop = threading.Event()
    reports: list[StepReport] = []

    def collect(report: StepReport) -> None:
        reports.append(report)
        stop.set()

    pump = EventPump(cloudwatch, Recorder(), Recorder(), clock=lambda: datetime.now(UTC))
    runner = threading.Thread(target=pump.run, args=(stop, 0.05), kwargs={"on_step": collect})
    runner.start()
    runner.join(timeout=30)

    assert not runner.is_alive()
    assert len(reports) == 1
    assert len(reports[0].tick_events) == 1


def _put_every_10_s(cloudwatch: CloudWatchClient, first: datetime, values: list[float]) -> None:
    """High-resolution datapoints (StorageResolution 1), one per 10 s from ``first``."""
    _put_points(cloudwatch, first + timedelta(seconds=2), values, every=timedelta(seconds=10), resolution=1)


def _put_alarm_of(cloudwatch: CloudWatchClient, name: str, period_s: int) -> None:
    put_alarm(cloudwatch, name, period_s=period_s, evaluation_periods=1)


def test_a_high_resolution_alarm_is_evaluated_every_10_seconds(cloudwatch: CloudWatchClient) -> None:
    """CloudWatch user guide, "Using Amazon CloudWatch alarms": an alarm of a 10 or 30 s period is evaluated every
    10 s. Stepped every 10 s, the pump answers the first breaching 10 s datapoint in the step after its period."""
    minute = this_minute() - timedelta(minutes=2)
    _put_alarm_of(cloudwatch, "fast", 10)
    _put_every_10_s(cloudwatch, minute - timedelta(minutes=1), [40.0] * 6)  # the minute before: quiet
    alarms = Recorder()
    pump = EventPump(cloudwatch, alarms, Recorder(), clock=lambda: minute)
    pump.step(minute + timedelta(seconds=1))  # seen quiet: INSUFFICIENT_DATA -> OK
    _put_every_10_s(cloudwatch, minute, [95.0] * 6)  # from the minute's start, every datapoint breaches

    changed = [offset for offset in range(11, 61, 10) if pump.step(minute + timedelta(seconds=offset)).alarm_events]

    assert changed == [11]  # its first breaching period [0 s, 10 s) closed at 10 s
    assert alarm_state(cloudwatch, "fast") == "ALARM"


@pytest.mark.parametrize(("phase_s", "expected"), [(0, [61]), (30, [31])])
def test_a_one_minute_alarm_is_evaluated_once_a_minute_however_often_the_pump_steps(
    cloudwatch: CloudWatchClient, phase_s: int, expected: list[int]
) -> None:
    """Any other alarm once a minute: a datapoint arriving late, mid-minute, changes its state at the next minute's
    evaluation (at the pump's phase in the minute), not at the next step."""
    minute = this_minute() - timedelta(minutes=2)
    _put_alarm_of(cloudwatch, "minutely", 60)
    put_minutes(cloudwatch, minute - timedelta(minutes=1), [40.0])
    alarms = Recorder()
    pump = EventPump(cloudwatch, alarms, Recorder(), clock=lambda: minute, phase_s=phase_s)
    pump.step(minute + timedelta(seconds=1))  # the current evaluation: quiet, INSUFFICIENT_DATA -> OK
    alarms.events.clear()

    changed = []
    for offset in range(11, 91, 10):
        if offset == 21:  # the previous minute's late datapoint: its average now breaches
            put_minutes(cloudwatch, minute - timedelta(minutes=1), [500.0])
        if pump.step(minute + timedelta(seconds=offset)).alarm_events:
            changed.append(offset)

    assert changed == expected


def test_an_alarm_deleted_and_made_again_is_evaluated_at_once(cloudwatch: CloudWatchClient) -> None:
    """The pump forgets a deleted alarm, its last evaluation included: a new alarm of that name is a new alarm."""
    minute = this_minute() - timedelta(minutes=2)
    _put_alarm_of(cloudwatch, "minutely", 60)
    put_minutes(cloudwatch, minute - timedelta(minutes=1), [40.0])
    pump = EventPump(cloudwatch, Recorder(), Recorder(), clock=lambda: minute)
    pump.step(minute + timedelta(seconds=1))
    cloudwatch.delete_alarms(AlarmNames=["minutely"])
    pump.step(minute + timedelta(seconds=11))
    _put_alarm_of(cloudwatch, "minutely", 60)
    put_minutes(cloudwatch, minute - timedelta(minutes=1), [500.0])

    report = pump.step(minute + timedelta(seconds=21))  # the same minute as its predecessor's evaluation

    assert pump.states == {"minutely": AlarmState.ALARM}
    assert len(report.alarm_events) == 1  # evaluated at once, not at the next minute
