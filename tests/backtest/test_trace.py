"""Trace files: the minute,requests and timestamp,requests formats, rows spread over their step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from marea_backtest.trace import TraceError, load_trace, read_trace, trace_from_rates


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
        pytest.param("minute,requests\n0,-1\n", "requests must be >= 0", id="negative"),
        pytest.param("minute,requests\n-5,1\n0,1\n", "minutes must be >= 0", id="negative-minute"),
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


def test_given_timestamped_rows_when_loading_then_the_trace_starts_at_the_first_in_its_zone(tmp_path: Path) -> None:
    text = "timestamp,requests\n1995-07-01T00:00:00-04:00,30\n1995-07-01T00:03:00-04:00,10\n1995-07-01T04:04:00Z,8\n"

    loaded = read_trace(write(tmp_path, text))

    assert loaded.trace.demand == (10.0, 10.0, 10.0, 10.0, 8.0)  # offsets compared as instants
    assert loaded.trace.start == datetime(1995, 7, 1, tzinfo=timezone(timedelta(hours=-4)))
    assert loaded.trace.start is not None
    assert loaded.trace.start.utcoffset() == timedelta(hours=-4)
    assert loaded.naive_read_as_utc is False


def test_given_nabs_own_naive_timestamps_when_loading_then_they_are_read_as_utc_and_said_so(tmp_path: Path) -> None:
    text = "timestamp,value\n2014-04-10 00:02:00,94\n2014-04-10 00:07:00,56\n"

    loaded = read_trace(write(tmp_path, text))

    assert loaded.trace.demand == (94 / 5,) * 5 + (56 / 5,) * 5
    assert loaded.trace.start == datetime(2014, 4, 10, 0, 2, tzinfo=UTC)
    assert loaded.naive_read_as_utc is True
    assert load_trace(write(tmp_path, text)) == loaded.trace


def test_given_a_minute_trace_when_loading_then_it_has_no_start_of_its_own(tmp_path: Path) -> None:
    loaded = read_trace(write(tmp_path, "minute,requests\n0,1\n"))

    assert loaded.trace.start is None
    assert loaded.trace.head(1).start is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("timestamp,requests\nyesterday,1\n", "ISO 8601", id="not-a-time"),
        pytest.param(
            "timestamp,requests\n2024-01-01T00:00Z,1\n2024-01-01T00:00:30Z,1\n", "whole minutes", id="seconds"
        ),
        pytest.param("timestamp,requests\n2024-01-01T00:05Z,1\n2024-01-01T00:00Z,1\n", "increase", id="backwards"),
        pytest.param(
            "timestamp,requests\n2024-01-01T00:00Z,1\n2024-01-01 00:01,1\n", "all timestamps or none", id="mixed-zones"
        ),
        pytest.param("timestamp,requests\n2024-01-01T00:00Z,-1\n", ">= 0", id="negative"),
        pytest.param("timestamp,count\n2024-01-01T00:00Z,1\n", "timestamp,value", id="wrong-header"),
    ],
)
def test_given_a_malformed_timestamped_file_when_loading_then_it_says_where(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(TraceError, match=message):
        load_trace(write(tmp_path, text))


def test_given_a_naive_start_then_a_trace_in_memory_is_refused() -> None:
    with pytest.raises(TraceError, match="timezone-aware"):
        trace_from_rates("t", [1.0], start=datetime(2024, 1, 1))  # naive on purpose
