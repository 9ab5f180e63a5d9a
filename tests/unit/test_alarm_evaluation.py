"""CloudWatch alarm evaluation, table by table from the CloudWatch user guide.

Patterns read oldest to newest over the 5-period evaluation range of a 3-period alarm, as in the
guide's tables: ``0`` a datapoint within the threshold, ``X`` a breaching one, ``-`` a missing one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.alarm_evaluation import (
    AlarmDefinition,
    ComparisonOperator,
    TreatMissingData,
    UnsupportedAlarmError,
    evaluate,
    evaluation_range,
)
from chalicelib.models.signals import AlarmState

NOW = datetime(2026, 11, 24, 10, 5, 30, tzinfo=UTC)  # the last complete minute is 10:04
THRESHOLD = 70.0
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"
OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
KEEP = "keep"  # the guide's "Retain current state"


def definition(**overrides: Any) -> AlarmDefinition:
    fields: dict[str, Any] = {
        "name": "cpu-high",
        "arn": ARN,
        "namespace": "Marea/Test",
        "metric_name": "CPUUtilization",
        "dimensions": {"AutoScalingGroupName": "web"},
        "statistic": "Average",
        "period_s": 60,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 3,
        "threshold": THRESHOLD,
        "comparison_operator": ComparisonOperator.GREATER_THAN,
    }
    return AlarmDefinition(**(fields | overrides))


def series(pattern: str, *, now: datetime = NOW, period_s: int = 60) -> list[tuple[datetime, float]]:
    """Datapoints for a pattern whose last symbol is the last complete period before ``now``."""
    symbols = pattern.split()
    end = datetime.fromtimestamp(int(now.timestamp()) // period_s * period_s, tz=UTC)
    first = end - timedelta(seconds=period_s * len(symbols))
    values = {"0": 40.0, "X": 90.0}
    return [
        (first + timedelta(seconds=period_s * index), values[symbol] + index)
        for index, symbol in enumerate(symbols)
        if symbol != "-"
    ]


TREATMENTS = [
    TreatMissingData.MISSING,
    TreatMissingData.IGNORE,
    TreatMissingData.BREACHING,
    TreatMissingData.NOT_BREACHING,
]


def table_cases(m: int, rows: list[tuple[str, tuple[Any, Any, Any, Any]]]) -> list[Any]:
    return [
        pytest.param(m, pattern, treat, expected, id=f"{m}of3 {pattern} {treat}")
        for pattern, outcomes in rows
        for treat, expected in zip(TREATMENTS, outcomes, strict=True)
    ]


# "How alarm state is evaluated when data is missing": Datapoints to Alarm 3, Evaluation Periods 3.
THREE_OF_THREE = [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("0 - - - -", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT, KEEP, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", (INSUFFICIENT, KEEP, ALARM, OK)),
    ("X - - - -", (ALARM, KEEP, ALARM, OK)),
    ("- - X - -", (ALARM, KEEP, ALARM, OK)),
]
# Same section, 2 out of 3.
TWO_OF_THREE = [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - - X", (INSUFFICIENT, KEEP, ALARM, OK)),
]


@pytest.mark.parametrize("previous", [OK, ALARM, INSUFFICIENT])
@pytest.mark.parametrize(
    ("m", "pattern", "treat", "expected"), table_cases(3, THREE_OF_THREE) + table_cases(2, TWO_OF_THREE)
)
def test_the_guides_missing_data_tables(
    m: int, pattern: str, treat: TreatMissingData, expected: Any, previous: AlarmState
) -> None:
    alarm = definition(datapoints_to_alarm=m, treat_missing_data=treat)

    result = evaluate(alarm, series(pattern), NOW, previous)

    assert result.state is (previous if expected == KEEP else expected)


@pytest.mark.parametrize(
    ("operator", "value", "breaches"),
    [
        (ComparisonOperator.GREATER_THAN, 70.1, True),
        (ComparisonOperator.GREATER_THAN, 70.0, False),
        (ComparisonOperator.GREATER_THAN, 69.9, False),
        (ComparisonOperator.GREATER_THAN_OR_EQUAL, 70.1, True),
        (ComparisonOperator.GREATER_THAN_OR_EQUAL, 70.0, True),
        (ComparisonOperator.GREATER_THAN_OR_EQUAL, 69.9, False),
        (ComparisonOperator.LESS_THAN, 69.9, True),
        (ComparisonOperator.LESS_THAN, 70.0, False),
        (ComparisonOperator.LESS_THAN, 70.1, False),
        (ComparisonOperator.LESS_THAN_OR_EQUAL, 69.9, True),
        (ComparisonOperator.LESS_THAN_OR_EQUAL, 70.0, True),
        (ComparisonOperator.LESS_THAN_OR_EQUAL, 70.1, False),
    ],
)
def test_each_comparison_operator(operator: ComparisonOperator, value: float, breaches: bool) -> None:
    alarm = definition(comparison_operator=operator, evaluation_periods=1, datapoints_to_alarm=1)
    last_minute = datetime(2026, 11, 24, 10, 4, tzinfo=UTC)

    result = evaluate(alarm, [(last_minute, value)], NOW, OK)

    assert operator.breaches(value, THRESHOLD) is breaches
    assert result.state is (ALARM if breaches else OK)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("X X 0 0", ALARM),  # breaching datapoints need not be consecutive nor recent
        ("X 0 X 0", ALARM),
        ("0 0 X X", ALARM),
        ("X 0 0 0", OK),
        ("0 0 0 X", OK),
        ("0 0 0 0", OK),
        ("X X X X", ALARM),
    ],
)
def test_m_out_of_n(pattern: str, expected: AlarmState) -> None:
    alarm = definition(evaluation_periods=4, datapoints_to_alarm=2)

    assert evaluate(alarm, series(pattern), NOW, OK).state is expected


def test_only_the_most_recent_n_real_datapoints_count() -> None:
    # 5 real datapoints in the range; the older breaching pair no longer counts for 2 of 3.
    alarm = definition(datapoints_to_alarm=2)

    assert evaluate(alarm, series("X X 0 0 X"), NOW, ALARM).state is OK


def test_the_period_in_progress_and_older_periods_are_not_evaluated() -> None:
    alarm = definition(evaluation_periods=1, datapoints_to_alarm=1, treat_missing_data=TreatMissingData.MISSING)
    in_progress = (datetime(2026, 11, 24, 10, 5, tzinfo=UTC), 99.0)
    too_old = (datetime(2026, 11, 24, 10, 1, tzinfo=UTC), 99.0)  # range of 1 + 2 periods starts 10:02

    assert evaluate(alarm, [in_progress, too_old], NOW, OK).state is INSUFFICIENT


def test_a_datapoint_inside_a_period_counts_for_that_period() -> None:
    alarm = definition(evaluation_periods=1, datapoints_to_alarm=1)

    assert evaluate(alarm, [(datetime(2026, 11, 24, 10, 4, 59, tzinfo=UTC), 95.0)], NOW, OK).state is ALARM


def test_evaluation_range_covers_n_plus_two_complete_periods() -> None:
    start, end = evaluation_range(definition(period_s=300), NOW)

    assert (start, end) == (datetime(2026, 11, 24, 9, 40, tzinfo=UTC), datetime(2026, 11, 24, 10, 5, tzinfo=UTC))


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    # CloudWatch: "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data".
    alarm = definition(namespace="AWS/DynamoDB", treat_missing_data=TreatMissingData.BREACHING)

    assert alarm.effective_treat_missing_data is TreatMissingData.IGNORE
    assert evaluate(alarm, [], NOW, OK).state is OK


def test_alarm_reason_reads_like_cloudwatchs() -> None:
    result = evaluate(definition(), series("- - X X X"), NOW, OK)

    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [94.0 (24/11/26 10:04:00), "
        "93.0 (24/11/26 10:03:00), 92.0 (24/11/26 10:02:00)] were greater than the threshold (70.0) "
        "(minimum 3 datapoints for OK -> ALARM transition)."
    )


def test_ok_reason_counts_datapoints_within_the_threshold() -> None:
    result = evaluate(definition(datapoints_to_alarm=2), series("- - X 0 0"), NOW, ALARM)

    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [44.0 (24/11/26 10:04:00), 43.0 (24/11/26 10:03:00)] "
        "were not greater than the threshold (70.0) (minimum 2 datapoints for ALARM -> OK transition)."
    )


@pytest.mark.parametrize(
    ("treat", "pattern", "reason"),
    [
        (TreatMissingData.MISSING, "- - - - -", "Insufficient Data: 3 datapoints were unknown."),
        (
            TreatMissingData.BREACHING,
            "- - - - -",
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were "
            "treated as [Breaching].",
        ),
        (
            TreatMissingData.NOT_BREACHING,
            "- - - - -",
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were "
            "treated as [NonBreaching].",
        ),
        (
            TreatMissingData.BREACHING,
            "- - - - X",
            "Threshold Crossed: 1 out of the last 3 datapoints [94.0 (24/11/26 10:04:00)] was greater than the "
            "threshold (70.0) and 2 missing datapoints were treated as [Breaching] (minimum 3 datapoints for "
            "OK -> ALARM transition).",
        ),
        (
            TreatMissingData.MISSING,
            "- - - - X",
            "Insufficient Data: 2 datapoints were unknown; 1 out of the last 3 datapoints "
            "[94.0 (24/11/26 10:04:00)] was greater than the threshold (70.0).",
        ),
    ],
)
def test_missing_data_reasons(treat: TreatMissingData, pattern: str, reason: str) -> None:
    assert evaluate(definition(treat_missing_data=treat), series(pattern), NOW, OK).reason == reason


def test_reason_data_has_cloudwatchs_shape() -> None:
    result = evaluate(definition(), series("- - X X X"), NOW, OK)

    assert list(result.reason_data) == [
        "version",
        "queryDate",
        "startDate",
        "statistic",
        "period",
        "recentDatapoints",
        "threshold",
        "evaluatedDatapoints",
    ]
    assert result.reason_data == {
        "version": "1.0",
        "queryDate": "2026-11-24T10:05:30.000+0000",
        "startDate": "2026-11-24T10:02:00.000+0000",
        "statistic": "Average",
        "period": 60,
        "recentDatapoints": [92.0, 93.0, 94.0],  # oldest first
        "threshold": 70.0,
        "evaluatedDatapoints": [  # newest first
            {"timestamp": "2026-11-24T10:04:00.000+0000", "value": 94.0},
            {"timestamp": "2026-11-24T10:03:00.000+0000", "value": 93.0},
            {"timestamp": "2026-11-24T10:02:00.000+0000", "value": 92.0},
        ],
    }
    json.dumps(result.reason_data)  # SetAlarmState and the event carry it as a JSON string


def test_filled_in_datapoints_are_listed_without_a_value() -> None:
    result = evaluate(definition(treat_missing_data=TreatMissingData.BREACHING), series("- - - - X"), NOW, OK)

    assert result.reason_data["evaluatedDatapoints"] == [
        {"timestamp": "2026-11-24T10:04:00.000+0000", "value": 94.0},
        {"timestamp": "2026-11-24T10:03:00.000+0000"},
        {"timestamp": "2026-11-24T10:02:00.000+0000"},
    ]
    assert result.reason_data["recentDatapoints"] == [94.0]


def test_long_reasons_list_only_the_newest_datapoints() -> None:
    alarm = definition(evaluation_periods=30, datapoints_to_alarm=30)
    result = evaluate(alarm, series(" ".join(["X"] * 30)), NOW, OK)

    assert result.reason.count("(24/11/26") == 10
    assert ", ...]" in result.reason
    assert len(result.reason) < 1023  # SetAlarmState's StateReason limit


def test_timestamps_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(definition(), [], NOW.replace(tzinfo=None), OK)
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(definition(), [(datetime(2026, 11, 24, 10, 4), 1.0)], NOW, OK)


def test_one_datapoint_per_period() -> None:
    minute = datetime(2026, 11, 24, 10, 4, tzinfo=UTC)

    with pytest.raises(ValueError, match="one per period"):
        evaluate(definition(), [(minute, 1.0), (minute + timedelta(seconds=10), 2.0)], NOW, OK)


def describe_entry(**overrides: Any) -> dict[str, Any]:
    """A MetricAlarms entry of DescribeAlarms, as boto3 returns it for a PutMetricAlarm without
    DatapointsToAlarm and TreatMissingData."""
    entry: dict[str, Any] = {
        "AlarmName": "cpu-high",
        "AlarmArn": ARN,
        "AlarmDescription": "web CPU above 70 %",
        "StateValue": "OK",
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/EC2",
        "Statistic": "Average",
        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "web"}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 70.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    return entry | overrides


def test_definition_from_describe_alarms() -> None:
    alarm = AlarmDefinition.from_metric_alarm(describe_entry())

    assert alarm == AlarmDefinition(
        name="cpu-high",
        arn=ARN,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        statistic="Average",
        period_s=60,
        evaluation_periods=3,
        datapoints_to_alarm=3,  # absent means N out of N
        threshold=70.0,
        comparison_operator=ComparisonOperator.GREATER_THAN,
        treat_missing_data=TreatMissingData.MISSING,  # absent means missing
        description="web CPU above 70 %",
    )


def test_definition_keeps_m_of_n_treatment_and_extended_statistics() -> None:
    entry = describe_entry(DatapointsToAlarm=2, TreatMissingData="breaching", ExtendedStatistic="p99", Unit="Percent")
    del entry["Statistic"]

    alarm = AlarmDefinition.from_metric_alarm(entry)

    assert (alarm.datapoints_to_alarm, alarm.treat_missing_data, alarm.statistic, alarm.unit) == (
        2,
        TreatMissingData.BREACHING,
        "p99",
        "Percent",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Metrics": [{"Id": "m1", "Expression": "m2 * 2"}]}, "metric math"),
        ({"ThresholdMetricId": "ad1"}, "anomaly detection"),
        ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "not supported"),
        ({"MetricName": None}, "missing MetricName"),
        ({"Statistic": None}, "missing Statistic"),
    ],
)
def test_unsupported_alarms_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedAlarmError, match=message):
        AlarmDefinition.from_metric_alarm(describe_entry(**overrides))


def test_m_may_not_exceed_n() -> None:
    with pytest.raises(ValueError, match="datapoints_to_alarm"):
        AlarmDefinition.from_metric_alarm(describe_entry(DatapointsToAlarm=4))


symbols = st.lists(st.sampled_from(["0", "X", "-"]), min_size=5, max_size=5)


@given(
    pattern=symbols, m=st.integers(1, 3), treat=st.sampled_from(TreatMissingData), previous=st.sampled_from(AlarmState)
)
def test_with_n_real_datapoints_the_treatment_does_not_matter(
    pattern: list[str], m: int, treat: TreatMissingData, previous: AlarmState
) -> None:
    real = [symbol for symbol in pattern if symbol != "-"]
    alarm = definition(datapoints_to_alarm=m, treat_missing_data=treat)

    result = evaluate(alarm, series(" ".join(pattern)), NOW, previous)

    if len(real) >= 3:
        assert result.state is (ALARM if real[-3:].count("X") >= m else OK)
    if result.state is INSUFFICIENT and previous is not INSUFFICIENT:
        assert treat is TreatMissingData.MISSING  # 'ignore' may only keep INSUFFICIENT_DATA
    if treat in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        assert result.state is not INSUFFICIENT
