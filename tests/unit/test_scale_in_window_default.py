"""A target-tracking policy's default scale-in window is AWS's 15 minutes, whatever the metric's period.

AWS's documented scale-in alarm is 15 of 15 one-minute datapoints: 15 minutes. Counted in datapoints, a 10 s
metric made it 150 s, and on the NASA trace in 10 s steps that policy changed capacity 6x as often as on the
1-minute metric, was short longer and cost more (bench/high_resolution.py, docs/backtesting.md). A default
window is not stored, so a target whose period changes gets the new period's default; a given one is kept.
"""

from __future__ import annotations

import pytest

from chalicelib.engine import target_tracking
from chalicelib.models.decisions import Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.targets import TargetTrackingPolicy, default_scale_in_datapoints
from chalicelib.store.items import TARGET_ADAPTER
from tests.unit.engine_factories import NOW, custom_metric, series, signal, tt_policy


@pytest.mark.parametrize(("period_s", "datapoints"), [(10, 90), (20, 45), (30, 30), (60, 15), (120, 15), (300, 15)])
def test_the_default_window_is_15_minutes_of_datapoints_and_never_fewer_than_15(period_s: int, datapoints: int) -> None:
    policy = tt_policy(metric=custom_metric(period_s=period_s))

    assert policy.scale_in_window == datapoints == default_scale_in_datapoints(period_s)
    assert policy.lookback.total_seconds() >= datapoints * period_s


def test_a_given_window_is_kept_at_any_period() -> None:
    assert tt_policy(metric=custom_metric(period_s=10), scale_in_datapoints=15).scale_in_window == 15


def test_a_default_window_is_not_written_so_a_new_period_gets_its_own() -> None:
    target = {
        "id": "web",
        "kind": "asg",
        "asg_name": "web",
        "min": 1,
        "max": 10,
        "policies": [tt_policy(metric=custom_metric(period_s=10)).model_dump(mode="json")],
    }
    stored = TARGET_ADAPTER.dump_python(TARGET_ADAPTER.validate_python(target), mode="json")
    policy = stored["policies"][0]

    assert "scale_in_datapoints" not in policy
    policy["metric"]["period_s"] = 60  # a PATCH of the period alone
    reread = TARGET_ADAPTER.validate_python(stored).policies[0]
    assert isinstance(reread, TargetTrackingPolicy)
    assert reread.scale_in_window == 15


def test_given_a_10_s_metric_then_150_s_below_the_threshold_is_not_yet_a_scale_in_and_15_minutes_is() -> None:
    policy = tt_policy(metric=custom_metric(period_s=10))
    short = target_tracking.propose(policy, signal(6, {"cpu": series([30] * 15, period_s=10)}), NOW)
    long = target_tracking.propose(policy, signal(6, {"cpu": series([30] * 90, period_s=10)}), NOW)

    assert (short.vote, short.reasons) == (Vote.HOLD, [ReasonCode.INSUFFICIENT_DATA])
    assert "for only 15 of 90 datapoints" in short.detail
    assert (long.vote, long.proposed) == (Vote.IN, 3)
