"""The pure parts of the demo's real chat tier: EMF lines -> PutMetricData, the instance-count follower,
where clients go, and which lines become datapoints in which demo minute."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chat.metrics import connected_clients_emf
from marea_local.chat_processes import LogTail
from marea_local.demo.chat_plan import MinuteMap, place_samples, plan_fleet, real_clients, spread_clients
from marea_local.demo.chat_tier import EmfCollector
from marea_local.emf import MAX_METRIC_DATA_PER_CALL, EmfError, EmfSample, parse_emf_line, put_metric_data_requests

MINUTE = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
T0_MS = 1_795_000_000_000


def chat_line(count: int, timestamp_ms: int = T0_MS) -> str:
    """What a chat instance prints (chat/metrics.py builds it)."""
    return connected_clients_emf(count, cluster_name="demo", service_name="chat", timestamp_ms=timestamp_ms)


def sample(count: float, timestamp_ms: int = T0_MS) -> EmfSample:
    return parse_emf_line(chat_line(int(count), timestamp_ms))[0]


# ---- EMF lines ---------------------------------------------------------------------------------


def test_the_chat_s_line_is_one_connected_clients_sample_with_its_dimensions_and_timestamp() -> None:
    assert parse_emf_line(chat_line(37) + "\n") == [
        EmfSample(
            namespace="Marea/Chat",
            metric_name="ConnectedClients",
            dimensions=(("ClusterName", "demo"), ("ServiceName", "chat")),
            unit="Count",
            timestamp_ms=T0_MS,
            values=(37.0,),
        )
    ]


@pytest.mark.parametrize(
    "line",
    ["", "uvicorn started", "{not json", "[1, 2]", '{"level": "INFO", "message": "chat instance started"}'],
)
def test_lines_that_are_not_emf_are_only_logs(line: str) -> None:
    assert parse_emf_line(line) == []


def test_every_dimension_set_and_every_value_of_an_array_counts() -> None:
    document = {
        "_aws": {
            "Timestamp": T0_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "App",
                    "Dimensions": [["Service"], ["Service", "Room"], []],
                    "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Sent"}],
                }
            ],
        },
        "Service": "chat",
        "Room": "general",
        "Latency": [3, 4.5],
        "Sent": 2,
    }

    samples = parse_emf_line(json.dumps(document))

    assert [(s.metric_name, s.dimensions, s.unit, s.values) for s in samples] == [
        ("Latency", (("Service", "chat"),), "Milliseconds", (3.0, 4.5)),
        ("Latency", (("Service", "chat"), ("Room", "general")), "Milliseconds", (3.0, 4.5)),
        ("Latency", (), "Milliseconds", (3.0, 4.5)),
        ("Sent", (("Service", "chat"),), None, (2.0,)),
        ("Sent", (("Service", "chat"), ("Room", "general")), None, (2.0,)),
        ("Sent", (), None, (2.0,)),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: d["_aws"].update(Timestamp="2026-11-24T10:00:00Z"), "Timestamp"),
        (lambda d: d["_aws"].update(CloudWatchMetrics={}), "CloudWatchMetrics"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].pop("Namespace"), "Namespace"),
        (lambda d: d.pop("ServiceName"), "ServiceName"),
        (lambda d: d.update(ClusterName=7), "ClusterName"),
        (lambda d: d.update(ConnectedClients="12"), "finite number"),
        (lambda d: d.update(ConnectedClients=True), "finite number"),
        (lambda d: d.pop("ConnectedClients"), "finite number"),
        (lambda d: d.update(ConnectedClients=[]), "values"),
    ],
)
def test_a_line_that_declares_metrics_but_breaks_the_specification_is_refused(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    document = json.loads(chat_line(5))
    change(document)

    with pytest.raises(EmfError, match=message):
        parse_emf_line(json.dumps(document))


def test_samples_of_one_minute_travel_as_one_statistic_set_scaled_and_at_their_minute() -> None:
    later = MINUTE + timedelta(minutes=1)
    samples = [(sample(30), MINUTE), (sample(50), MINUTE), (sample(40), later)]

    requests = put_metric_data_requests(samples, scale=10)

    dimensions = [{"Name": "ClusterName", "Value": "demo"}, {"Name": "ServiceName", "Value": "chat"}]
    assert requests == [
        {
            "Namespace": "Marea/Chat",
            "MetricData": [
                {
                    "MetricName": "ConnectedClients",
                    "Dimensions": dimensions,
                    "Timestamp": MINUTE,
                    "StatisticValues": {"SampleCount": 2.0, "Sum": 800.0, "Minimum": 300.0, "Maximum": 500.0},
                    "Unit": "Count",
                },
                {
                    "MetricName": "ConnectedClients",
                    "Dimensions": dimensions,
                    "Timestamp": later,
                    "StatisticValues": {"SampleCount": 1.0, "Sum": 400.0, "Minimum": 400.0, "Maximum": 400.0},
                    "Unit": "Count",
                },
            ],
        }
    ]


def test_a_high_resolution_line_becomes_high_resolution_metric_data() -> None:
    """The chat emitting every 10 s marks its metric StorageResolution 1 (EMF); the stand-in puts it so."""
    line = connected_clients_emf(12, cluster_name="demo", service_name="chat", timestamp_ms=T0_MS, high_resolution=True)
    [high] = parse_emf_line(line)
    assert json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "ConnectedClients", "Unit": "Count", "StorageResolution": 1}
    ]
    assert (high.storage_resolution, sample(12).storage_resolution) == (1, 60)

    [request] = put_metric_data_requests([(high, MINUTE), (sample(12), MINUTE + timedelta(minutes=1))])

    assert [datum.get("StorageResolution") for datum in request["MetricData"]] == [1, None]


@pytest.mark.parametrize("resolution", [10, "1", True, 0])
def test_a_storage_resolution_other_than_1_or_60_is_refused(resolution: object) -> None:
    document = json.loads(chat_line(5))
    document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"] = resolution

    with pytest.raises(EmfError, match="StorageResolution must be 1 or 60"):
        parse_emf_line(json.dumps(document))


def test_requests_hold_one_namespace_and_at_most_a_thousand_metrics() -> None:
    other = EmfSample("Other", "Load", (), None, T0_MS, (1.0,))
    many = [(sample(1), MINUTE + timedelta(minutes=n)) for n in range(MAX_METRIC_DATA_PER_CALL + 1)]

    requests = put_metric_data_requests([*many, (other, MINUTE)])

    assert [(r["Namespace"], len(r["MetricData"])) for r in requests] == [
        ("Marea/Chat", MAX_METRIC_DATA_PER_CALL),
        ("Marea/Chat", 1),
        ("Other", 1),
    ]
    assert "Unit" not in requests[-1]["MetricData"][0]


# ---- following desiredCount ----------------------------------------------------------------------


def test_the_fleet_follows_desired_count_up_to_the_cap() -> None:
    assert plan_fleet(4, 6, running=["a", "b"], booting=[]).start == 2
    assert plan_fleet(9, 6, running=["a", "b"], booting=["c"]).start == 3
    assert plan_fleet(3, 6, running=["a", "b", "c"], booting=[]).start == 0
    assert plan_fleet(3, 6, running=["a", "b", "c"], booting=[]).stop == ()


def test_scale_in_cancels_booting_instances_first_then_stops_the_newest() -> None:
    assert plan_fleet(3, 6, running=["a", "b", "c"], booting=["d", "e"]).stop == ("e", "d")
    assert plan_fleet(1, 6, running=["a", "b", "c"], booting=["d"]).stop == ("d", "c", "b")
    assert plan_fleet(2, 6, running=["a", "b", "c", "d", "e", "f", "g"], booting=[]).stop == ("g", "f", "e", "d", "c")


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="cap"):
        plan_fleet(2, 0, running=[], booting=[])


# ---- clients -----------------------------------------------------------------------------------------


def test_one_real_client_stands_for_k_users_within_the_bound() -> None:
    assert real_clients(512, desired=2, processes=2, users_per_client=10, max_clients=400) == 51
    assert real_clients(10_000, desired=20, processes=20, users_per_client=10, max_clients=400) == 400
    assert real_clients(0, desired=2, processes=2, users_per_client=10, max_clients=400) == 0


def test_above_the_cap_the_running_processes_hold_only_their_share_of_the_users() -> None:
    # 9 tasks wanted, 6 processes: 3600 users -> 2400 on the six, 400 per process, as on the full service.
    assert real_clients(3600, desired=9, processes=6, users_per_client=10, max_clients=400) == 240


def test_newcomers_go_to_the_least_loaded_and_leavers_come_from_the_most_loaded() -> None:
    assert spread_clients(10, {"a": 5, "b": 0, "c": 1}) == {"b": 3, "c": 1}
    assert spread_clients(12, {"a": 2, "b": 2}) == {"a": 4, "b": 4}
    assert spread_clients(3, {"a": 5, "b": 2, "c": 1}) == {"a": -4, "b": -1}
    assert spread_clients(7, {"a": 5, "b": 2}) == {}
    assert spread_clients(5, {}) == {}


# ---- demo minutes ------------------------------------------------------------------------------------


def test_an_instant_belongs_to_the_demo_minute_marked_last_before_it_and_pauses_belong_to_none() -> None:
    minutes = MinuteMap()
    minutes.mark(100.0, MINUTE)
    minutes.pause(100.5)
    minutes.mark(100.6, MINUTE + timedelta(minutes=1))

    assert minutes.minute_of(99.9) is None
    assert minutes.minute_of(100.0) == MINUTE
    assert minutes.minute_of(100.49) == MINUTE
    assert minutes.minute_of(100.55) is None
    assert minutes.minute_of(250.0) == MINUTE + timedelta(minutes=1)
    with pytest.raises(ValueError, match="back in time"):
        minutes.mark(100.59, MINUTE)


def test_the_first_line_of_each_instance_in_a_demo_minute_becomes_its_datapoint() -> None:
    minutes = MinuteMap()
    minutes.mark(1000.0, MINUTE)
    minutes.pause(1001.0)
    minutes.mark(1001.2, MINUTE + timedelta(minutes=1))
    sampled: set[tuple[str, datetime]] = set()
    lines = [
        ("chat-1", sample(9, 999_900)),  # before the first minute
        ("chat-1", sample(10, 1_000_050)),
        ("chat-1", sample(11, 1_000_100)),  # a second line of chat-1 in the same minute
        ("chat-2", sample(20, 1_000_060)),
        ("chat-2", sample(21, 1_001_100)),  # while the clients changed
        ("chat-2", sample(22, 1_001_300)),
        ("chat-3", sample(30, 1_001_250)),  # before its SIGTERM
        ("chat-3", sample(31, 1_001_400)),  # after it
    ]

    placement = place_samples(lines, minutes, {"chat-3": 1001.3}, sampled)
    late = place_samples([("chat-1", sample(12, 1_000_500))], minutes, {}, sampled)

    assert [(s.values[0], minute) for s, minute in placement.placed] == [
        (10.0, MINUTE),
        (20.0, MINUTE),
        (22.0, MINUTE + timedelta(minutes=1)),
        (30.0, MINUTE + timedelta(minutes=1)),
    ]
    assert (placement.between_minutes, placement.surplus, placement.after_sigterm) == (2, 1, 1)
    assert (late.placed, late.surplus) == ([], 1)  # a late line of a minute already sampled


def test_the_collector_tails_each_instance_s_stdout_and_waits_for_a_line_printed_after_the_mark(
    tmp_path: Path,
) -> None:
    out = tmp_path / "chat-1.out"
    out.write_text(chat_line(1, T0_MS - 10) + "\nnot a metric\n" + '{"_aws": {"Timestamp": "bad"}}\n')
    collector = EmfCollector(poll_every_s=0.001)
    collector.follow("chat-1", out)
    collector.follow("chat-2", tmp_path / "chat-2.out")  # not started yet: no file

    assert collector.wait_fresh(["chat-1", "chat-2"], T0_MS, timeout_s=0.01) == ["chat-1", "chat-2"]
    with out.open("a") as handle:
        handle.write(chat_line(2, T0_MS + 5) + "\n" + chat_line(3, T0_MS + 9)[:20])  # the last one half-written
    assert collector.wait_fresh(["chat-1"], T0_MS, timeout_s=5) == []
    assert [(name, s.values) for name, s in collector.take()] == [("chat-1", (1.0,)), ("chat-1", (2.0,))]
    with out.open("a") as handle:
        handle.write(chat_line(3, T0_MS + 9)[20:] + "\n")
    collector.forget("chat-1")
    assert [(name, s.values) for name, s in collector.take()] == [("chat-1", (3.0,))]
    assert (collector.lines, len(collector.invalid)) == (3, 1)


def test_a_tail_empties_its_file_past_the_limit_and_carries_on_at_the_new_end(tmp_path: Path) -> None:
    path = tmp_path / "chat-1.out"
    with path.open("ab") as writer:  # O_APPEND, as the chat's stdout
        tail = LogTail(path, truncate_after_bytes=10)
        writer.write(b"first line\nsecond line\n")
        writer.flush()
        assert tail.read_lines() == ["first line", "second line"]
        assert path.stat().st_size == 0
        writer.write(b"third\n")
        writer.flush()
        assert tail.read_lines() == ["third"]
    tail.close()
