"""POST /backtest's body and response pieces: strict validation, presets in step with the replay, the comparison."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from chalicelib.backtest import KINDS, POLICY_NAMES, Summary
from chalicelib.models.backtest import BacktestRequest, PresetName
from chalicelib.models.targets import ScheduledPolicy, TargetTrackingPolicy
from chalicelib.target_backtest import KIND_OF_TARGET, compare, figures

BASE: dict[str, Any] = {"target": "web", "unit_capacity": 100}
TRACKING = {
    "type": "target_tracking",
    "name": "cpu",
    "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
    "target_value": 60,
}


def summary(under: int, unit_hours: float, ideal: float = 10.0, actions: int = 4) -> Summary:
    return Summary(
        steps=600,
        under_provisioned_steps=under,
        unit_hours=unit_hours,
        ideal_unit_hours=ideal,
        scaling_actions=actions,
        scale_outs=actions // 2,
        scale_ins=actions - actions // 2,
        theta_u=1.0,
        theta_o=2.0,
        tau_u=3.0,
        tau_o=4.0,
        jitter_per_hour=0.5,
    )


def test_given_only_the_required_fields_then_a_week_of_marea_without_trajectory_is_asked() -> None:
    request = BacktestRequest.model_validate(BASE)

    assert (request.days, request.proposed, request.trajectory, request.target_utilization) == (7, "marea", False, 70)
    assert request.demand_metric is None


def test_the_presets_are_the_policies_the_replay_knows_by_name() -> None:
    assert get_args(PresetName) == POLICY_NAMES


def test_every_target_kind_replays_in_a_world_kind() -> None:
    from chalicelib.models.targets import AsgTarget, EcsTarget, KopsTarget

    kinds = {model.model_fields["kind"].default for model in (AsgTarget, EcsTarget, KopsTarget)}
    assert set(KIND_OF_TARGET) == kinds
    assert set(KIND_OF_TARGET.values()) == set(KINDS)


def test_given_policies_as_proposed_then_they_are_parsed_as_a_targets_policies() -> None:
    schedule = {"type": "scheduled", "name": "day", "actions": [{"name": "am", "cron": "0 8 * * *", "min_capacity": 4}]}

    request = BacktestRequest.model_validate(
        {**BASE, "proposed": [TRACKING, schedule], "scale_in_stabilization_s": 900}
    )

    assert isinstance(request.proposed, list)
    assert [type(p) for p in request.proposed] == [TargetTrackingPolicy, ScheduledPolicy]
    assert request.scale_in_stabilization_s == 900


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"days": 0}, "greater than or equal to 1"),
        ({"days": 15}, "less than or equal to 14"),
        ({"days": 7.5}, "valid integer"),
        ({"days": True}, "valid integer"),
        ({"unit_capacity": 0}, "greater than or equal to 0.000001"),
        ({"target_utilization": 0.5}, "greater than or equal to 1"),
        ({"unit_capacity": float("inf")}, "finite number"),
        ({"unit_capacity": "100"}, "valid number"),
        ({"trajectory": 1}, "valid boolean"),
        ({"proposed": "magic"}, "'marea', 'aws-target-tracking', 'hpa' or 'scheduled'"),
        ({"proposed": [TRACKING, TRACKING]}, "repeated: cpu"),
        ({"proposed": "hpa", "scale_in_stabilization_s": 60}, "not to a preset"),
        ({"demand_metric": {"namespace": "A", "metric_name": "B", "period_s": 300}}, "Extra inputs"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_given_a_bad_body_then_validation_says_why(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BacktestRequest.model_validate({**BASE, **change})


def test_given_a_proposed_step_policy_then_it_is_accepted_its_alarm_being_read_when_replayed() -> None:
    step = {
        "type": "step",
        "name": "burst",
        "alarm_name": "a",
        "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "adjustment": 2}],
    }

    request = BacktestRequest.model_validate({**BASE, "proposed": [step]})

    assert not isinstance(request.proposed, str)
    assert [p.name for p in request.proposed] == ["burst"]


def test_given_a_named_demand_metric_then_it_is_read_per_minute_with_sum_by_default() -> None:
    request = BacktestRequest.model_validate({**BASE, "demand_metric": {"namespace": "App", "metric_name": "Hits"}})

    assert request.demand_metric is not None
    metric = request.demand_metric.as_metric()
    assert (metric.statistic.value, metric.period_s) == ("Sum", 60)


def test_given_fewer_short_minutes_and_fewer_unit_hours_then_the_proposal_is_better() -> None:
    comparison = compare(summary(under=20, unit_hours=100), summary(under=5, unit_hours=90))

    assert comparison.proposed_is_better
    assert comparison.under_provisioned_minutes.model_dump() == {
        "current": 20,
        "proposed": 5,
        "change": -15,
        "ratio": 0.25,
    }
    assert comparison.unit_hours.change == pytest.approx(-10)


@pytest.mark.parametrize(
    ("current", "proposed"),
    [((20, 100.0), (5, 101.0)), ((0, 100.0), (0, 100.0)), ((3, 100.0), (4, 50.0))],
    ids=["costlier", "the same", "short more often"],
)
def test_given_a_trade_off_or_a_tie_then_the_proposal_is_not_called_better(
    current: tuple[int, float], proposed: tuple[int, float]
) -> None:
    assert not compare(summary(*current), summary(*proposed)).proposed_is_better


def test_given_a_current_figure_of_zero_then_the_ratio_is_null() -> None:
    assert compare(summary(0, 10), summary(0, 10)).under_provisioned_minutes.ratio is None


def test_given_no_ideal_capacity_then_the_cost_relative_to_it_is_null_not_infinite() -> None:
    assert figures(summary(0, 10, ideal=0)).cost_vs_ideal is None
    assert figures(summary(0, 10, ideal=5)).cost_vs_ideal == 2.0
