"""The models of AWS target tracking and the Kubernetes HPA follow their documented defaults."""

from __future__ import annotations

from chalicelib.backtest.policies.aws_target_tracking import AwsTargetTracking
from chalicelib.backtest.policies.base import Observation
from chalicelib.backtest.policies.hpa import Hpa, scale_up_limit
from chalicelib.backtest.world import World

WORLD = World(kind="ec2", unit_capacity=10, target_utilization=70)


def seen(minute: int, utilization: float, ready: int = 10, desired: int | None = None) -> Observation:
    demand = utilization * ready * WORLD.unit_capacity / 100
    return Observation(minute, demand, ready, ready if desired is None else desired, utilization)


def feed(policy: AwsTargetTracking | Hpa, utilizations: list[float], ready: int = 10, desired: int = 10) -> list[int]:
    decided = []
    for minute, utilization in enumerate(utilizations, start=1):
        decision = policy.decide(minute, seen(minute - 1, utilization, ready, desired), ready, desired)
        decided.append(decision.desired)
    return decided


def test_given_two_minutes_above_target_then_target_tracking_waits_for_the_third() -> None:
    assert feed(AwsTargetTracking(WORLD), [91, 91]) == [10, 10]
    assert feed(AwsTargetTracking(WORLD), [91, 91, 91]) == [10, 10, 13]


def test_given_units_still_booting_then_only_what_exceeds_desired_is_added() -> None:
    # ceil(10 ready x 91 / 70) = 13 units needed; 14 are already desired (4 booting): nothing to add.
    assert feed(AwsTargetTracking(WORLD), [91, 91, 91], ready=10, desired=14) == [14, 14, 14]


def test_given_15_minutes_below_90pct_of_target_then_target_tracking_scales_in_proportionally() -> None:
    decided = feed(AwsTargetTracking(WORLD), [35.0] * 15)

    assert decided == [10] * 14 + [5]


def test_given_units_warming_up_then_target_tracking_does_not_scale_in() -> None:
    assert feed(AwsTargetTracking(WORLD), [35.0] * 15, ready=10, desired=12)[-1] == 12


def test_given_a_scale_in_then_the_next_waits_for_the_300s_cooldown() -> None:
    policy = AwsTargetTracking(WORLD)
    desired = 10
    changes = []
    for minute in range(1, 25):
        decision = policy.decide(minute, seen(minute - 1, 20.0, desired, desired), desired, desired)
        if decision.desired != desired:
            changes.append(minute)
        desired = decision.desired

    assert changes[:2] == [15, 20]


def test_given_a_missing_datapoint_then_target_tracking_never_scales_in() -> None:
    policy = AwsTargetTracking(WORLD)
    for minute in range(1, 16):
        last = Observation(minute - 1, 0.0, 0, 3, None)
        assert policy.decide(minute, last, 0, 3).desired == 3


def test_given_utilization_within_10pct_then_hpa_does_nothing() -> None:
    assert feed(Hpa(WORLD), [76.0, 64.0, 70.0]) == [10, 10, 10]


def test_given_high_utilization_then_hpa_scales_at_once_within_its_rate_limit() -> None:
    assert feed(Hpa(WORLD), [140.0]) == [20]
    assert feed(Hpa(WORLD), [140.0], ready=1, desired=1) == [2]
    assert scale_up_limit(1) == 40  # 1 -> 5 -> 10 -> 20 -> 40 in four 15 s syncs


def test_given_low_utilization_then_hpa_scales_down_to_the_highest_of_the_last_300s() -> None:
    policy = Hpa(WORLD)
    desired = 10
    decided = []
    for minute, utilization in enumerate([100.0, 35.0, 35.0, 35.0, 35.0, 35.0, 35.0, 35.0], start=1):
        decision = policy.decide(minute, seen(minute - 1, utilization, 10, desired), 10, desired)
        desired = decision.desired
        decided.append(desired)

    # 100 % asks for 15 (capped at the limit), then 5 is recommended; the window keeps 15 for 300 s.
    assert decided == [15, 15, 15, 15, 15, 15, 5, 5]


def test_given_units_came_into_service_after_the_datapoint_then_target_tracking_sizes_from_those_behind_it() -> None:
    # 5 served the last minute at 140 %: 10 are needed. 5 more came into service since; the datapoint
    # was not measured over them, so 10 is still the need, not ceil(10 x 140 / 70) = 20.
    policy = AwsTargetTracking(WORLD)
    for minute in (1, 2):
        policy.decide(minute, seen(minute - 1, 140.0, ready=5, desired=10), 5, 10)

    assert policy.decide(3, seen(2, 140.0, ready=5, desired=10), 10, 10).desired == 10


def test_given_units_removed_after_the_datapoint_then_target_tracking_scale_in_sizes_from_those_behind_it() -> None:
    # 10 served at 30 % for 15 minutes: 5 are needed (ceil(10 x 30 / 70)), whatever serves now.
    policy = AwsTargetTracking(WORLD)
    for minute in range(1, 15):
        policy.decide(minute, seen(minute - 1, 30.0, ready=10), 10, 10)

    assert policy.decide(15, seen(14, 30.0, ready=10), 8, 8).desired == 5


def test_given_pods_ready_after_the_datapoint_then_hpa_counts_them_as_using_nothing_on_scale_up() -> None:
    # HPA: pods without a metric are taken as using 0 % of their request when scaling up, so the
    # 5 new pods do not double the 5 measured ones: ceil((5 x 140 + 5 x 0) / 70) = 10.
    assert Hpa(WORLD).decide(1, seen(0, 140.0, ready=5, desired=10), 10, 10).desired == 10


def test_given_pods_ready_after_the_datapoint_then_hpa_leaves_them_out_on_scale_down() -> None:
    # Scale-down: pods whose latest metric predates their readiness are set aside (groupPods), so the
    # 5 measured at 14 % decide: ceil(5 x 14 / 70) = 1, not ceil(10 x 14 / 70) = 2.
    assert Hpa(WORLD).decide(1, seen(0, 14.0, ready=5, desired=10), 10, 10).desired == 1


def test_given_the_set_aside_pods_bring_the_ratio_within_tolerance_then_hpa_does_nothing() -> None:
    # 5 measured at 150 %, 5 new at 0 %: (5 x 150) / (10 x 70) = 1.07, within the 0.1 tolerance.
    assert Hpa(WORLD).decide(1, seen(0, 150.0, ready=5, desired=10), 10, 10).desired == 10
