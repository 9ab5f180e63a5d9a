"""decide() end to end, its explanations, and remember() (the history it leaves behind)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.engine import decide, remember
from chalicelib.engine.history import MAX_RECOMMENDATIONS
from chalicelib.models.decisions import Action, EngineResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmState, CapacityChange, Datapoint, Recommendation, TargetHistory
from chalicelib.models.targets import TargetTrackingPolicy
from tests.unit.engine_factories import (
    NOW,
    action,
    alarm,
    custom_metric,
    history,
    scheduled_policy,
    series,
    signal,
    step_policy,
    target,
    tt_policy,
)

R = ReasonCode
CPU_METRIC = custom_metric("CPUUtilization")


def cpu(name: str = "cpu") -> TargetTrackingPolicy:
    return tt_policy(name=name, metric=CPU_METRIC)


@pytest.mark.parametrize(
    ("current", "values", "explanation"),
    [
        pytest.param(
            2,
            [92] * 3,
            "Scale out from 2 to 4: policy 'cpu' sees CPUUtilization 92.0 > target 60.0 for 3 datapoints.",
            id="scale-out",
        ),
        pytest.param(
            4,
            [55] * 15,
            "Hold at 4: policy 'cpu' sees CPUUtilization 55.0, within tolerance of target 60.0 (scale-in below 54.0).",
            id="within-tolerance",
        ),
        pytest.param(
            3,
            [],
            "Hold at 3: policy 'cpu' sees no CPUUtilization datapoints; Marea never scales in on missing data.",
            id="no-data",
        ),
        pytest.param(
            6,
            [30] * 15,
            "Scale in from 6 to 3: policy 'cpu' sees CPUUtilization 30.0 < 54.0 (target 60.0) for 15 datapoints.",
            id="scale-in",
        ),
        pytest.param(
            9,
            [92] * 3,
            "Scale out from 9 to 10: policy 'cpu' sees CPUUtilization 92.0 > target 60.0 for 3 datapoints"
            " and asks for 14 (capped at the target's max 10).",
            id="capped",
        ),
    ],
)
def test_given_a_situation_when_deciding_then_one_sentence_explains_it(
    current: int, values: list[float], explanation: str
) -> None:
    result = decide(target(cpu()), signal(current, {"cpu": series(values)} if values else {}), history(), NOW)

    assert result.explanation == explanation


@pytest.mark.parametrize(
    ("current", "metrics", "explanation"),
    [
        pytest.param(
            7,
            {},
            "Scale in from 7 to 5: capped at the target's max 5; policy 'cpu' sees no CPUUtilization datapoints;"
            " policy 'mem' sees no CPUUtilization datapoints.",
            id="missing-data-hold-but-above-max",
        ),
        pytest.param(
            7,
            {"cpu": series([55] * 15), "mem": series([30] * 15)},
            "Scale in from 7 to 5: capped at the target's max 5; policy 'cpu' sees CPUUtilization 55.0, within"
            " tolerance of target 60.0 (scale-in below 54.0); policy 'mem' asked for 4.",
            id="vetoed-scale-in-but-above-max",
        ),
        pytest.param(
            1,
            {"cpu": series([55] * 15), "mem": series([55] * 15)},
            "Scale out from 1 to 2: raised to the target's min 2; policy 'cpu' sees CPUUtilization 55.0, within"
            " tolerance of target 60.0 (scale-in below 54.0); policy 'mem' sees CPUUtilization 55.0, within"
            " tolerance of target 60.0 (scale-in below 54.0).",
            id="holding-but-below-min",
        ),
    ],
)
def test_given_a_bound_forcing_the_change_when_explained_then_the_bound_is_the_cause(
    current: int, metrics: dict[str, list[Datapoint]], explanation: str
) -> None:
    # The review's case: "Scale in from 7 to 5 ... Marea never scales in on missing data (capped at
    # the target's max 5)": the sentence must not claim a rule the change broke.
    result = decide(
        target(cpu("cpu"), cpu("mem"), min_capacity=2, max_capacity=5), signal(current, metrics), history(), NOW
    )

    assert result.explanation == explanation


def test_given_stabilised_scale_in_when_deciding_then_the_window_is_named() -> None:
    result = decide(target(cpu()), signal(6, {"cpu": series([30] * 15)}), history(recommendations=[(60, 5)]), NOW)

    assert result.explanation.endswith("and asks for 3 (stabilised to 5 by the 300 s window).")
    assert (result.proposed, result.final, result.action) == (3, 5, Action.IN)


def test_given_one_policy_holding_when_another_wants_scale_in_then_veto_is_explained() -> None:
    policies = target(cpu("cpu"), cpu("mem"))
    metrics = {"cpu": series([55] * 15), "mem": series([30] * 15)}

    result = decide(policies, signal(6, metrics), history(), NOW)

    assert (result.final, result.policy) == (6, None)
    assert result.reasons == [R.WITHIN_TOLERANCE, R.SCALE_IN_VETOED]
    assert "policy 'mem' asked for 3, but policy 'cpu' sees" in result.explanation
    assert "scale-in needs every policy to agree" in result.explanation


@pytest.mark.parametrize(
    "guard_values",
    [
        pytest.param([55] * 15, id="guard-within-tolerance"),
        pytest.param([5] * 15, id="guard-itself-below-target"),
    ],
)
def test_given_a_policy_with_scale_in_disabled_when_another_wants_scale_in_then_it_does_not_veto(
    guard_values: list[float],
) -> None:
    # AWS: scale in when every target-tracking policy *with scale-in enabled* is ready to; a policy with
    # DisableScaleIn exists so that another one can scale in, so it has no vote on scale-in.
    guard = tt_policy(name="guard", metric=custom_metric("Latency"), disable_scale_in=True)
    metrics = {"guard": series(guard_values), "mem": series([30] * 15)}

    result = decide(target(guard, cpu("mem")), signal(6, metrics), history(), NOW)

    assert (result.final, result.action, result.policy) == (3, Action.IN, "mem")
    assert R.SCALE_IN_VETOED not in result.reasons
    guard_vote = result.policy_results[0]
    assert (guard_vote.vote, guard_vote.reasons) == (Vote.ABSTAIN, [R.SCALE_IN_DISABLED])


def test_given_a_policy_with_scale_in_disabled_when_its_load_is_high_then_it_still_scales_out() -> None:
    guard = tt_policy(name="guard", metric=custom_metric("Latency"), disable_scale_in=True)
    metrics = {"guard": series([90] * 3), "mem": series([30] * 15)}

    result = decide(target(guard, cpu("mem")), signal(4, metrics), history(), NOW)

    assert (result.final, result.policy) == (6, "guard")


def test_given_a_policy_with_scale_in_disabled_but_no_data_when_another_wants_scale_in_then_it_holds() -> None:
    # Marea's own rule on top of AWS's: an unreadable metric vetoes scale-in whoever reads it.
    guard = tt_policy(name="guard", metric=custom_metric("Latency"), disable_scale_in=True)

    result = decide(target(guard, cpu("mem")), signal(6, {"mem": series([30] * 15)}), history(), NOW)

    assert result.action is Action.NONE
    assert R.HOLD_ON_MISSING_DATA in result.reasons


def test_given_missing_data_and_a_scale_in_vote_when_deciding_then_it_holds_on_missing_data() -> None:
    result = decide(target(cpu("cpu"), cpu("mem")), signal(6, {"mem": series([30] * 15)}), history(), NOW)

    assert result.action is Action.NONE
    assert result.reasons == [R.INSUFFICIENT_DATA, R.SCALE_IN_VETOED, R.HOLD_ON_MISSING_DATA]


def test_given_step_and_target_tracking_when_both_scale_out_then_largest_wins_and_is_attributed() -> None:
    burst = step_policy(steps=((0, None, 5),))
    breaching = [alarm(AlarmState.ALARM, 95, 80)]

    result = decide(target(cpu(), burst), signal(2, {"cpu": series([92] * 3)}, breaching), history(), NOW)

    assert (result.proposed, result.final, result.policy) == (7, 7, "burst")
    assert result.reasons == [R.ALARM_BREACHING]
    assert [r.policy for r in result.policy_results] == ["cpu", "burst"]


def test_given_no_policies_when_deciding_then_it_holds_and_says_so() -> None:
    result = decide(target(), signal(4), history(), NOW)

    assert (result.final, result.reasons) == (4, [R.NO_POLICIES])
    assert result.explanation == "Hold at 4: the target has no scaling policies."


def test_given_only_a_schedule_when_deciding_then_it_bounds_without_proposing() -> None:
    calendar = scheduled_policy(action(name="business-hours", cron="0 8 * * *", min_capacity=5))

    result = decide(target(calendar), signal(2), history(), NOW)

    assert (result.final, result.action, result.policy) == (5, Action.OUT, None)
    assert result.reasons == [R.SCHEDULE_ACTIVE, R.NO_POLICIES, R.SCHEDULED_FLOOR]
    assert result.explanation == (
        "Scale out from 2 to 5: raised to the scheduled floor 5: action 'business-hours' (min 5) in force since"
        " 2024-03-29 08:00 UTC; the target has only scheduled policies, which bound capacity but never propose it."
    )


def test_given_alarm_ok_when_deciding_then_nobody_asked() -> None:
    result = decide(target(step_policy()), signal(4, alarms=[alarm(AlarmState.OK, 50, 80)]), history(), NOW)

    assert result.reasons == [R.ALARM_OK]
    assert result.explanation == "Hold at 4: no policy asked for a change; policy 'burst' sees alarm 'high-cpu' in OK."


def test_given_paused_target_when_policies_want_more_then_the_proposal_is_mentioned() -> None:
    result = decide(target(cpu(), paused=True), signal(3, {"cpu": series([92] * 3)}), history(), NOW)

    assert result.explanation == "Paused: capacity stays at 3 (policies proposed 5)."
    assert result.reasons == [R.ABOVE_TARGET, R.PAUSED]


def test_given_naive_now_when_deciding_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(target(), signal(1), history(), datetime(2024, 3, 29, 12))  # naive on purpose


def test_given_same_inputs_when_deciding_twice_then_results_are_equal() -> None:
    args = (target(cpu()), signal(2, {"cpu": series([92] * 3)}), history(), NOW)

    assert decide(*args) == decide(*args)


# --- remember ------------------------------------------------------------------------------------


def result_of(action: Action, final: int, proposed: int, policy: str | None = "cpu") -> EngineResult:
    return EngineResult(
        current=4,
        proposed=proposed,
        final=final,
        action=action,
        policy=policy,
        reasons=[],
        explanation="",
        policy_results=[],
        effective_min=1,
        effective_max=10,
    )


def test_given_any_decision_when_remembering_then_its_proposal_joins_the_window_and_old_ones_leave() -> None:
    before = history(recommendations=[(400, 9), (200, 7)])

    after = remember(before, target(), result_of(Action.IN, 5, 3), applied=False, now=NOW)

    assert after.recommendations == [
        Recommendation(at=NOW - timedelta(seconds=200), capacity=7),
        Recommendation(at=NOW, capacity=3),
    ]
    assert (after.last_scale_in, after.last_scale_out, after.last_action_by_policy) == (None, None, {})


def test_given_many_recommendations_when_remembering_then_at_most_the_latest_200_are_kept() -> None:
    before = history(recommendations=[(290 - i, i) for i in range(250)])

    after = remember(before, target(), result_of(Action.NONE, 4, 4), applied=True, now=NOW)

    assert len(after.recommendations) == MAX_RECOMMENDATIONS
    assert after.recommendations[-1] == Recommendation(at=NOW, capacity=4)


@pytest.mark.parametrize(
    ("action", "field"),
    [pytest.param(Action.OUT, "last_scale_out", id="out"), pytest.param(Action.IN, "last_scale_in", id="in")],
)
def test_given_an_applied_change_when_remembering_then_it_starts_cooldowns(action: Action, field: str) -> None:
    after = remember(history(), target(), result_of(action, 6, 7), applied=True, now=NOW)

    # A scale-out also remembers the capacity it was sized from (the base of its cooldown).
    before = 4 if action is Action.OUT else None
    assert getattr(after, field) == CapacityChange(at=NOW, capacity=6, before=before)
    assert after.last_action_by_policy == {"cpu": NOW}


@pytest.mark.parametrize(
    ("action", "applied", "policy"),
    [
        pytest.param(Action.OUT, False, "cpu", id="advised-only"),
        pytest.param(Action.NONE, True, "cpu", id="nothing-to-apply"),
    ],
)
def test_given_no_applied_change_when_remembering_then_cooldowns_are_untouched(
    action: Action, applied: bool, policy: str
) -> None:
    before = history(scaled_out_s_ago=1000, policy_actions_s_ago={"cpu": 1000})

    after = remember(before, target(), result_of(action, 6, 7, policy), applied=applied, now=NOW)

    assert (after.last_scale_out, after.last_action_by_policy) == (before.last_scale_out, before.last_action_by_policy)


def test_given_a_change_caused_by_bounds_when_remembering_then_no_policy_is_charged() -> None:
    after = remember(TargetHistory(), target(), result_of(Action.OUT, 3, 4, None), applied=True, now=NOW)

    assert after.last_scale_out == CapacityChange(at=NOW, capacity=3, before=4)
    assert after.last_action_by_policy == {}
