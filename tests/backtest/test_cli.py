"""``marea backtest``: the command a person runs, its CSV, its summary and its chart."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from marea_backtest.cli import main
from marea_backtest.progress import ProgressBar
from marea_backtest.report import CSV_COLUMNS


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    rows = "".join(f"{m},{40 if m < 300 else 160}\n" for m in range(0, 600, 5))
    path = tmp_path / "step.csv"
    path.write_text("minute,requests\n" + rows)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_given_a_trace_when_backtesting_then_csv_summary_and_chart_are_written(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, chart = tmp_path / "out.csv", tmp_path / "out.png"

    code, stdout, stderr = run(
        [
            "backtest",
            str(trace_file),
            "--kind",
            "ec2",
            "--policy",
            "marea",
            "--unit-capacity",
            "2",
            "--out",
            str(out),
            "--chart",
            str(chart),
        ],
        capsys,
    )

    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 600
    assert rows[0]["demand"] == "8"  # 40 requests over a 5-minute row
    assert any(row["note"].startswith("Scale out") for row in rows)
    for figure in ("under-provisioned minutes", "unit-hours", "cost relative to ideal", "θU", "jitter"):
        assert figure in stdout
    assert "100%" in stderr  # the progress bar
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_given_a_schedule_file_when_backtesting_scheduled_then_it_is_replayed(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_text(
        json.dumps(
            {"type": "scheduled", "name": "s", "actions": [{"name": "a", "cron": "0 * * * *", "min_capacity": 7}]}
        )
    )
    out = tmp_path / "out.csv"
    args = ["backtest", str(trace_file), "--kind", "fargate", "--policy", "scheduled", "--unit-capacity", "2"]

    code, stdout, _ = run([*args, "--out", str(out), "--schedule", str(schedule)], capsys)

    assert code == 0
    assert "policy scheduled" in stdout
    assert {row["desired"] for row in csv.DictReader(out.open())} == {"7"}


def test_given_a_missing_trace_when_backtesting_then_it_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", str(tmp_path / "nope.csv"), "--kind", "ec2", "--policy", "hpa", "--unit-capacity", "1"]

    code, _, stderr = run([*args, "--out", str(tmp_path / "o.csv")], capsys)

    assert code == 2
    assert "marea backtest:" in stderr


def test_given_no_terminal_then_the_progress_bar_logs_a_line_per_tenth() -> None:
    stream = io.StringIO()
    bar = ProgressBar("t", stream)

    for done in range(0, 1001, 50):
        bar(done, 1000)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[-1].startswith("t [##############################] 100%")


def test_given_the_project_venv_then_the_marea_command_is_installed() -> None:
    """`make venv` installs the console script (pyproject [project.scripts], pip install -e .)."""
    command = Path(sys.executable).parent / "marea"

    completed = subprocess.run([str(command), "backtest", "--help"], capture_output=True, text=True, check=False)  # noqa: S603

    assert completed.returncode == 0
    assert "--unit-capacity U" in completed.stdout
