"""``marea backtest`` with several policies, a target sweep and traces that carry their own start."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from marea_backtest import World, load_trace, run_backtest
from marea_backtest.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNIT_CAPACITY = 2.0


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    """600 minutes: 8 requests/min, then 32 from minute 300 (5-minute rows)."""
    rows = "".join(f"{m},{40 if m < 300 else 160}\n" for m in range(0, 600, 5))
    path = tmp_path / "step.csv"
    path.write_text("minute,requests\n" + rows)
    return path


def backtest(trace: Path, policy: str, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["backtest", str(trace), "--kind", "ec2", "--policy", policy, "--unit-capacity", "2", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table_rows(stdout: str, first_column: set[str]) -> list[list[str]]:
    """The table's rows (split on whitespace, thousands separators dropped) whose first cell is in ``first_column``."""
    rows = (line.replace(",", "").split() for line in stdout.splitlines())
    return [cells for cells in rows if cells and cells[0] in first_column]


def png_title(path: Path) -> str:
    """The title matplotlib wrote into the PNG's text chunks (the figure's title)."""
    with Image.open(path) as image:
        return str(image.text["Title"])


def test_given_three_policies_then_one_table_holds_the_figures_of_three_single_runs(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["marea", "aws-target-tracking", "hpa"]

    code, stdout, stderr = backtest(trace_file, ",".join(names), capsys=capsys)

    assert code == 0
    assert "ratios to aws-target-tracking" in stdout
    assert "3/3 replays" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.csv"]  # --out is optional
    singles = {
        n: run_backtest(load_trace(trace_file), n, World(kind="ec2", unit_capacity=UNIT_CAPACITY)) for n in names
    }
    reference = singles["aws-target-tracking"].summary
    rows = table_rows(stdout, set(names))
    assert [row[0] for row in rows] == names
    for name, short, short_pct, unit_hours, vs_ideal, actions, short_ratio, hours_ratio, actions_ratio, _ in rows:
        s = singles[name].summary
        assert (int(short), float(short_pct)) == (s.under_provisioned_minutes, round(s.under_provisioned_pct, 2))
        assert float(unit_hours) == round(s.unit_hours, 1)
        assert float(vs_ideal) == round(s.cost_vs_ideal, 3)
        assert int(actions) == s.scaling_actions
        assert float(hours_ratio) == round(s.unit_hours / reference.unit_hours, 2)
        assert float(actions_ratio) == round(s.scaling_actions / reference.scaling_actions, 2)
        assert short_ratio == f"{s.under_provisioned_minutes / reference.under_provisioned_minutes:.2f}"


def test_given_no_aws_target_tracking_then_the_ratios_are_to_the_first_policy(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = backtest(trace_file, "hpa,marea", capsys=capsys)

    assert code == 0
    assert "ratios to hpa (the first policy)" in stdout
    assert table_rows(stdout, {"hpa"})[0][6:9] == ["1.00", "1.00", "1.00"]


def test_given_several_policies_and_out_and_chart_then_a_csv_each_and_one_chart(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, chart = tmp_path / "run.csv", tmp_path / "run.png"

    code, stdout, _ = backtest(trace_file, "marea,hpa", "--out", str(out), "--chart", str(chart), capsys=capsys)

    assert code == 0
    for name in ("marea", "hpa"):
        single = run_backtest(load_trace(trace_file), name, World(kind="ec2", unit_capacity=UNIT_CAPACITY))
        rows = list(csv.DictReader((tmp_path / f"run.{name}.csv").open()))
        assert tuple(int(row["desired"]) for row in rows) == single.desired
        assert str(tmp_path / f"run.{name}.csv") in stdout
    assert not out.exists()
    assert chart.read_bytes()[:8] == PNG_SIGNATURE
    assert "marea, hpa" in png_title(chart)


@pytest.mark.parametrize(
    ("policy", "bad"),
    [("marea,nope", "'nope'"), ("marea,,hpa", "''"), ("hpa,marea,hpa", "'hpa' twice")],
)
def test_given_a_bad_policy_list_then_it_names_the_bad_one_and_the_valid_ones_and_writes_nothing(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str, bad: str
) -> None:
    out = tmp_path / "o.csv"

    code, stdout, stderr = backtest(trace_file, policy, "--out", str(out), capsys=capsys)

    assert code == 2
    assert bad in stderr
    assert "marea, aws-target-tracking, hpa, scheduled" in stderr
    assert stdout == ""
    assert list(tmp_path.glob("o*")) == []


def test_given_a_schedule_without_the_scheduled_policy_then_it_is_refused(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--schedule used to replace whatever --policy named by the schedule, silently."""
    schedule = tmp_path / "schedule.json"
    schedule.write_text('{"type": "scheduled", "name": "s", "actions": [{"name": "a", "cron": "0 * * * *"}]}')

    code, stdout, stderr = backtest(trace_file, "hpa", "--schedule", str(schedule), capsys=capsys)

    assert code == 2
    assert "--schedule applies to the scheduled policy" in stderr
    assert stdout == ""


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        pytest.param("", "START:STOP:STEP", id="empty"),
        pytest.param("50:95", "START:STOP:STEP", id="two-fields"),
        pytest.param("a:95:5", "START:STOP:STEP", id="not-numbers"),
        pytest.param("nan:95:5", "START:STOP:STEP", id="nan"),
        pytest.param("0:95:5", "0 < START <= STOP <= 100", id="zero-start"),
        pytest.param("80:60:5", "0 < START <= STOP <= 100", id="backwards"),
        pytest.param("50:105:5", "0 < START <= STOP <= 100", id="above-100"),
        pytest.param("50:95:0", "STEP must be > 0", id="zero-step"),
        pytest.param("50:95:-5", "STEP must be > 0", id="negative-step"),
        pytest.param("1:100:1", "100 targets; at most 30", id="too-many"),
    ],
)
def test_given_a_bad_sweep_then_it_says_what_a_sweep_is_and_writes_nothing(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], sweep: str, message: str
) -> None:
    out = tmp_path / "f.csv"

    code, stdout, stderr = backtest(trace_file, "marea", "--sweep", sweep, "--out", str(out), capsys=capsys)

    assert code == 2
    assert message in stderr
    assert stdout == ""
    assert not out.exists()


def test_given_a_sweep_then_each_point_is_the_single_run_at_that_target_in_parallel_too(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, targets = ["marea", "aws-target-tracking"], [60.0, 70.0, 80.0]
    out = tmp_path / "frontier.csv"

    code, stdout, stderr = backtest(
        trace_file, ",".join(names), "--sweep", "60:80:10", "--out", str(out), capsys=capsys
    )
    code_parallel, stdout_parallel, _ = backtest(
        trace_file, ",".join(names), "--sweep", "60:80:10", "--jobs", "2", capsys=capsys
    )

    assert code == code_parallel == 0
    assert "6/6 replays" in stderr
    rows = table_rows(stdout, set(names))
    assert [(row[0], float(row[1])) for row in rows] == [(n, t) for n in names for t in targets]
    assert table_rows(stdout_parallel, set(names)) == rows
    trace = load_trace(trace_file)
    for name, target, unit_hours, short, *rest in rows:
        s = run_backtest(trace, name, World(kind="ec2", unit_capacity=2, target_utilization=float(target))).summary
        assert (float(unit_hours), int(short), int(rest[1])) == (
            round(s.unit_hours, 1),
            s.under_provisioned_minutes,
            s.scaling_actions,
        )
        assert (rest[-1] == "*") == (float(target) == 70.0)  # the default --target-utilization, marked
    written = list(csv.DictReader(out.open()))
    assert [(r["policy"], float(r["target_utilization"]), r["default"]) for r in written] == [
        (n, t, str(int(t == 70.0))) for n in names for t in targets
    ]


def test_given_a_sweep_that_skips_the_default_target_then_the_default_is_replayed_too(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = backtest(trace_file, "hpa", "--sweep", "50:90:25", "--target-utilization", "65", capsys=capsys)

    assert code == 0
    rows = table_rows(stdout, {"hpa"})
    assert [(float(row[1]), row[-1] == "*") for row in rows] == [(50.0, False), (65.0, True), (75.0, False)]


def test_given_a_sweep_and_a_chart_then_the_frontier_is_drawn(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "frontier.png"

    code, stdout, _ = backtest(trace_file, "marea,hpa", "--sweep", "60:80:10", "--chart", str(chart), capsys=capsys)

    assert code == 0
    assert chart.read_bytes()[:8] == PNG_SIGNATURE
    assert chart.stat().st_size > 10_000
    assert "step" in png_title(chart)
    assert "frontier" in png_title(chart)
    assert str(chart) in stdout


@pytest.fixture
def timestamped_file(tmp_path: Path) -> Path:
    """300 minutes of NASA-like times (EDT), one row per 5 minutes."""
    rows = "".join(
        f"1995-07-01T{m // 60:02d}:{m % 60:02d}:00-04:00,{40 if m < 150 else 160}\n" for m in range(0, 300, 5)
    )
    path = tmp_path / "edt.csv"
    path.write_text("timestamp,requests\n" + rows)
    return path


def test_given_a_trace_with_times_then_its_start_is_used_said_and_drawn(
    timestamped_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "edt.png"

    code, stdout, stderr = backtest(timestamped_file, "aws-target-tracking", "--chart", str(chart), capsys=capsys)

    assert code == 0
    assert "minute 0 at 1995-07-01T00:00:00-04:00 (the trace's first timestamp)" in stdout
    assert "UTC" not in stderr
    assert "1995-07-01 00:00 -0400" in png_title(chart)


def test_given_start_then_it_overrides_the_trace_and_without_either_the_default_is_said(
    timestamped_file: Path, trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, overridden, _ = backtest(timestamped_file, "hpa", "--start", "1995-07-02T00:00+02:00", capsys=capsys)
    _, default, _ = backtest(trace_file, "hpa", capsys=capsys)

    assert "minute 0 at 1995-07-02T00:00:00+02:00 (--start)" in overridden
    assert "minute 0 at 2024-01-01T00:00:00+00:00 (the default: give --start" in default


def test_given_naive_timestamps_then_they_are_read_as_utc_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nab = tmp_path / "nab.csv"
    nab.write_text("timestamp,value\n2014-04-10 00:02:00,94\n2014-04-10 00:07:00,56\n2014-04-10 00:12:00,70\n")

    code, stdout, stderr = backtest(nab, "hpa", capsys=capsys)

    assert code == 0
    assert "minute 0 at 2014-04-10T00:02:00+00:00 (the trace's first timestamp)" in stdout
    assert "no zone offset: read as UTC" in stderr


def test_given_a_naive_start_then_it_is_refused(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = backtest(trace_file, "hpa", "--start", "1995-07-01T00:00", capsys=capsys)

    assert code == 2
    assert "timezone-aware" in stderr
    assert stdout == ""


@pytest.mark.parametrize("option", ["--out", "--chart"])
def test_given_an_output_in_a_missing_directory_then_it_is_refused_before_replaying(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    code, stdout, stderr = backtest(trace_file, "hpa", option, str(tmp_path / "nowhere" / "o"), capsys=capsys)

    assert code == 2
    assert f"{option}: no directory" in stderr
    assert stdout == ""


def test_given_no_jobs_then_it_is_refused(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = backtest(trace_file, "hpa,marea", "--jobs", "0", capsys=capsys)

    assert code == 2
    assert "--jobs must be at least 1" in stderr
    assert stdout == ""
