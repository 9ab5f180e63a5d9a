"""``marea backtest --target TARGET.json --alarms ALARMS.json --step 10``: a Marea target's own policies, offline."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from marea_backtest.cli import main
from marea_backtest.report import FINE_CSV_COLUMNS

TRIGGER = "web-cpu-above-target"


def fast_target(**fields: Any) -> dict[str, Any]:
    """A target as GET /targets/{id} returns it: a 10 s CPU metric and the alarm that triggers it."""
    policy = {
        "type": "target_tracking",
        "name": "cpu",
        "metric": {"type": "custom", "namespace": "App", "metric_name": "CPUUtilization", "period_s": 10},
        "target_value": 60,
        "trigger_alarm": TRIGGER,
    }
    return {"id": "web", "kind": "asg", "asg_name": "web", "min": 2, "max": 40, "policies": [policy], **fields}


def describe_alarms(**fields: Any) -> dict[str, Any]:
    """What ``aws cloudwatch describe-alarms --alarm-names web-cpu-above-target`` prints (the fields replayed)."""
    alarm = {
        "AlarmName": TRIGGER,
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{TRIGGER}",
        "Namespace": "App",
        "MetricName": "CPUUtilization",
        "Dimensions": [],
        "Statistic": "Average",
        "Period": 10,
        "EvaluationPeriods": 3,
        "Threshold": 60.0,
        "ComparisonOperator": "GreaterThanThreshold",
        **fields,
    }
    return {"MetricAlarms": [alarm]}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    trace = tmp_path / "spike.csv"
    trace.write_text("minute,requests\n" + "".join(f"{m},{60 if 30 <= m < 60 else 20}\n" for m in range(120)))
    target = tmp_path / "web.json"
    target.write_text(json.dumps({**fast_target(), "version": 3}))
    alarms = tmp_path / "alarms.json"
    alarms.write_text(json.dumps(describe_alarms()))
    return {"trace": trace, "target": target, "alarms": alarms, "dir": tmp_path}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["backtest", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_given_a_target_its_alarms_and_10_s_steps_then_its_own_policies_are_replayed_step_by_step(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["dir"] / "out.csv"
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"])]

    options = ["--unit-capacity", "10", "--target-utilization", "60", "--step", "10", "--out", str(out)]
    code, stdout, stderr = run([*argv, *options], capsys)

    assert code == 0, stderr
    assert "backtest of spike (120 minutes in 10 s steps) with policy target:web" in stdout
    assert "world: ec2 (provisioning delay 4 min)" in stdout  # an ASG's units are EC2 instances
    assert "units in [2, 40]" in stdout  # the target's own bounds
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == FINE_CSV_COLUMNS
    assert [row["second"] for row in rows[:3]] == ["0", "10", "20"]
    assert len(rows) == 720
    # The load triples at minute 30; the 10 s window and its trigger answer within the minute, not at a tick.
    first_out = next(int(row["second"]) for row in rows if int(row["desired"]) > int(rows[0]["desired"]))
    assert 1800 < first_out < 1860, first_out
    assert first_out % 60, first_out  # between the minute's ticks
    assert rows[first_out // 10]["note"]


def test_given_a_target_beside_a_preset_then_one_table_compares_them(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"]), "--step", "10"]

    code, stdout, stderr = run([*argv, "--policy", "aws-target-tracking", "--unit-capacity", "10"], capsys)

    assert code == 0, stderr
    assert "2 policies; ratios to aws-target-tracking" in stdout
    names = [line.split()[0] for line in stdout.splitlines()[4:6]]  # after the start, title, world, header
    assert names == ["target:web", "aws-target-tracking"]


def test_given_a_put_body_then_the_target_is_named_after_its_file(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    body = fast_target()
    del body["id"]
    body["policies"][0]["metric"]["period_s"] = 60
    del body["policies"][0]["trigger_alarm"]
    put = files["dir"] / "shop.json"
    put.write_text(json.dumps(body))

    code, stdout, stderr = run([str(files["trace"]), "--target", str(put), "--unit-capacity", "10"], capsys)

    assert code == 0, stderr
    assert "with policy target:shop" in stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "reads datapoints of 10 s; a replay in steps of 60 s"),  # a 10 s policy needs --step 10
        (["--step", "10", "--alarms", "-"], "is evaluated in 10 s steps on alarm 'web-cpu-above-target'"),
        (["--step", "10", "--sweep", "50:70:10"], "--sweep varies the presets' target utilization"),
    ],
    ids=["minute-steps", "no-trigger-definition", "sweep"],
)
def test_given_a_target_that_cannot_be_replayed_so_then_the_cli_says_why(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = [str(files["trace"]), "--target", str(files["target"]), "--unit-capacity", "10"]
    if "-" in extra:  # an alarms file that defines another alarm than the trigger
        other = files["dir"] / "other.json"
        other.write_text(json.dumps(describe_alarms(AlarmName="something-else")))
        extra = [str(other) if arg == "-" else arg for arg in extra]

    code, stdout, stderr = run([*argv, *extra], capsys)

    assert code == 2
    assert message in stderr
    assert stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "a target is a JSON object"),
        ('{"kind": "asg", "min": 1}', "not a target"),
        ("{nope", "not JSON"),
    ],
)
def test_given_a_target_file_that_is_not_a_target_then_nothing_is_replayed(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    files["target"].write_text(content)

    code, _, stderr = run([str(files["trace"]), "--target", str(files["target"]), "--unit-capacity", "10"], capsys)

    assert (code, message in stderr) == (2, True), stderr


@pytest.mark.parametrize(
    ("alarms", "message"),
    [
        ({"Alarms": []}, "expected the output of aws cloudwatch describe-alarms"),
        (
            {"MetricAlarms": [{k: v for k, v in describe_alarms()["MetricAlarms"][0].items() if k != "AlarmArn"}]},
            "MetricAlarms[0] (web-cpu-above-target): alarm 'web-cpu-above-target': missing AlarmArn",
        ),
        (describe_alarms(Period="ten"), "MetricAlarms[0] (web-cpu-above-target): invalid literal for int()"),
        (describe_alarms(Dimensions=[{"Name": "Service"}]), "MetricAlarms[0] (web-cpu-above-target): no 'Value'"),
        # Entries that are not alarms, or alarms the target does not name, are not read: the trigger is missing.
        ({"MetricAlarms": [TRIGGER, {"AlarmName": "other"}]}, "on alarm 'web-cpu-above-target', whose definition"),
    ],
    ids=["not-describe-alarms", "missing-field", "bad-period", "bad-dimension", "not-the-targets"],
)
def test_given_an_alarms_file_that_is_not_describe_alarms_output_then_nothing_is_replayed(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], alarms: dict[str, Any], message: str
) -> None:
    files["alarms"].write_text(json.dumps(alarms))
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"]), "--step", "10"]

    code, _, stderr = run([*argv, "--unit-capacity", "10"], capsys)

    assert (code, message in stderr) == (2, True), stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kind", "ec2", "--unit-capacity", "10"], "give --policy (a comma list of presets), --target"),
        (["--policy", "hpa", "--unit-capacity", "10"], "--kind is needed without --target"),
        (["--kind", "ec2", "--policy", "hpa", "--alarms", "a.json", "--unit-capacity", "1"], "give the target too"),
    ],
)
def test_given_neither_presets_nor_a_target_then_the_cli_asks_for_one(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, stderr = run([str(files["trace"]), *argv], capsys)

    assert (code, message in stderr) == (2, True), stderr


def test_given_alarms_the_target_does_not_name_then_they_are_not_read_even_when_no_replay_could_evaluate_them(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain describe-alarms output holds every alarm of the account, metric-math ones included."""
    math_alarm = {"AlarmName": "error-rate", "Metrics": [{"Id": "e1", "Expression": "m1 / m2"}]}
    files["alarms"].write_text(json.dumps({"MetricAlarms": [math_alarm, *describe_alarms()["MetricAlarms"]]}))
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"]), "--step", "10"]

    code, stdout, stderr = run([*argv, "--unit-capacity", "10"], capsys)

    assert code == 0, stderr
    assert "with policy target:web" in stdout


def test_given_a_fine_step_and_a_start_inside_a_minute_then_the_replay_is_refused(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The schedule ticks on the minute: a finer replay starting at :30 would tick at :30."""
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"]), "--step", "10"]

    code, _, stderr = run([*argv, "--unit-capacity", "10", "--start", "2024-01-01T00:00:30+00:00"], capsys)

    assert code == 2
    assert "a replay in 10 s steps starts on a whole minute, not at 2024-01-01T00:00:30+00:00" in stderr


def test_given_several_jobs_then_a_target_that_cannot_be_replayed_is_refused_before_any_replay_runs(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(files["trace"]), "--target", str(files["target"]), "--policy", "hpa,aws-target-tracking"]

    code, stdout, stderr = run([*argv, "--unit-capacity", "10", "--jobs", "2"], capsys)

    assert code == 2
    assert "reads datapoints of 10 s; a replay in steps of 60 s" in stderr
    assert "replay in steps of 10 s: marea backtest --step 10" in stderr
    assert stderr.count("\n") == 1, stderr  # the refusal only: no replay's progress
    assert stdout == ""


def test_given_a_target_in_a_comparison_then_its_csv_is_named_without_a_colon(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["dir"] / "o.csv"
    argv = [str(files["trace"]), "--target", str(files["target"]), "--alarms", str(files["alarms"]), "--step", "10"]

    code, _, stderr = run([*argv, "--policy", "hpa", "--unit-capacity", "10", "--out", str(out)], capsys)

    assert code == 0, stderr
    assert sorted(path.name for path in files["dir"].glob("o.*.csv")) == ["o.hpa.csv", "o.target-web.csv"]
