"""Trace files: the minute,requests format, rows spread over their step."""

from __future__ import annotations

from pathlib import Path

import pytest

from marea_backtest.trace import TraceError, load_trace, trace_from_rates


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_given_one_minute_rows_when_loading_then_each_row_is_a_minute(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, "minute,requests\n0,42\n1,61\n2,0\n"))

    assert trace.demand == (42.0, 61.0, 0.0)
    assert trace.name == "trace"


def test_given_five_minute_rows_when_loading_then_each_count_is_spread_evenly(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, "minute,requests\n0,100\n5,50\n"))

    assert trace.demand == (20.0,) * 5 + (10.0,) * 5


def test_given_uneven_steps_when_loading_then_each_row_uses_its_own_step(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, "minute,requests\n0,30\n3,10\n4,8\n"))

    assert trace.demand == (10.0, 10.0, 10.0, 10.0, 8.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("time,count\n0,1\n", "minute,requests", id="wrong-header"),
        pytest.param("minute,requests\n", "no rows", id="empty"),
        pytest.param("minute,requests\n0,1\n0,2\n", "increase", id="repeated-minute"),
        pytest.param("minute,requests\n0,-1\n", ">= 0", id="negative"),
        pytest.param("minute,requests\n0,abc\n", "could not convert", id="not-a-number"),
        pytest.param("minute,requests\n0,1,2\n", "2 fields", id="extra-field"),
    ],
)
def test_given_a_malformed_file_when_loading_then_it_says_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        load_trace(write(tmp_path, text))


def test_given_a_trace_when_taking_its_head_then_only_those_minutes_remain() -> None:
    trace = trace_from_rates("t", [1, 2, 3, 4])

    assert trace.head(2).demand == (1.0, 2.0)
    assert trace.mean == 2.5


def test_given_nan_rates_then_the_trace_is_refused() -> None:
    with pytest.raises(TraceError):
        trace_from_rates("t", [1.0, float("nan")])
