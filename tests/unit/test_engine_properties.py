"""Properties of decide() over random targets, signals and histories (hypothesis).

The invariants users rely on: capacity never leaves [min, max]; a load sitting on the target
never moves capacity; missing data never scales in; cooldowns hold; a pause freezes capacity.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.engine import decide, remember
from chalicelib.models.decisions import Action
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import (
    AlarmObservation,
    AlarmState,
    CapacityChange,
    Datapoint,
    Recommendation,
    ResourceBounds,
    Signal,
    TargetHistory,
)
from chalicelib.models.targets import (
    AdjustmentType,
    AsgTarget,
    CustomMetric,
    EcsTarget,
    Policy,
    ScheduledAction,
    ScheduledPolicy,
    StepAdjustment,
    StepScalingPolicy,
    TargetTrackingPolicy,
)
from tests.unit.engine_factories import CPU, NOW

Target = AsgTarget | EcsTarget
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]
CRONS = ["0 8 * * MON-FRI", "30 2 * * *", "*/15 * * * *", "0 20 * * *", "0 0 1 * *", "0 * * * SUN"]
WINDOWS_S = [0, 60, 300, 600]
capacities = st.integers(min_value=0, max_value=60)


@st.composite
def tt_policies(draw: st.DrawFn, name: str) -> TargetTrackingPolicy:
    metric = draw(st.sampled_from([CPU, CustomMetric(namespace="App", metric_name="Queue", period_s=300)]))
    return TargetTrackingPolicy(
        name=name,
        metric=metric,
        target_value=draw(st.floats(min_value=1, max_value=1_000)),
        scale_out_cooldown_s=draw(st.integers(0, 600)),
        scale_in_cooldown_s=draw(st.integers(0, 600)),
        scale_in_margin=draw(st.floats(min_value=0, max_value=0.5)),
        scale_out_datapoints=draw(st.integers(1, 5)),
        scale_in_datapoints=draw(st.integers(1, 20)),
        disable_scale_in=draw(st.booleans()),
    )


@st.composite
def step_policies(draw: st.DrawFn, name: str) -> StepScalingPolicy:
    cuts = sorted(set(draw(st.lists(st.floats(min_value=-50, max_value=50), max_size=3))))
    edges: list[float | None] = [None, *cuts, None]
    kind = draw(st.sampled_from(list(AdjustmentType)))
    steps = [
        StepAdjustment(lower_bound=lo, upper_bound=hi, adjustment=draw(st.integers(-20, 40)))
        for lo, hi in itertools.pairwise(edges)
    ]
    percent = kind is AdjustmentType.PERCENT_CHANGE_IN_CAPACITY
    return StepScalingPolicy(
        name=name,
        alarm_name=f"{name}-alarm",
        adjustment_type=kind,
        steps=steps,
        min_adjustment_magnitude=draw(st.none() | st.integers(1, 5)) if percent else None,
        cooldown_s=draw(st.integers(0, 600)),
    )


@st.composite
def scheduled_actions(draw: st.DrawFn, name: str) -> ScheduledAction:
    low = draw(st.none() | capacities)
    high = draw(st.none() | st.integers(low or 0, 60)) if low is not None else draw(capacities)
    return ScheduledAction(
        name=name,
        cron=draw(st.sampled_from(CRONS)),
        timezone=draw(st.sampled_from(ZONES)),
        min_capacity=low,
        max_capacity=high,
        duration_minutes=draw(st.none() | st.integers(1, 24 * 60)),
        exclude_dates=draw(st.lists(st.dates(date(2024, 3, 1), date(2024, 4, 30)), max_size=5)),
    )


@st.composite
def policy_sets(draw: st.DrawFn, tt: int = 2, step: int = 2, schedules: int = 1) -> list[Policy]:
    policies: list[Policy] = [draw(tt_policies(f"tt{i}")) for i in range(draw(st.integers(0, tt)))]
    policies += [draw(step_policies(f"step{i}")) for i in range(draw(st.integers(0, step)))]
    for i in range(draw(st.integers(0, schedules))):
        actions = [draw(scheduled_actions(f"a{j}")) for j in range(draw(st.integers(1, 3)))]
        policies.append(ScheduledPolicy(name=f"sched{i}", actions=actions))
    return policies


@st.composite
def targets(draw: st.DrawFn, policies: Sequence[Policy], paused: bool = False, ecs: bool | None = None) -> Target:
    """An Auto Scaling group (EC2 rules) or an ECS service (Application Auto Scaling rules)."""
    low = draw(st.integers(0, 20))
    common = {
        "id": "t",
        "min": low,
        "max": low + draw(st.integers(0, 30)),
        "paused": paused,
        "policies": list(policies),
        "scale_in_stabilization_s": draw(st.sampled_from(WINDOWS_S)),
    }
    if draw(st.booleans()) if ecs is None else ecs:
        return EcsTarget(cluster="c", service="s", **common)
    return AsgTarget(asg_name="asg", **common)


def period_of(policy: TargetTrackingPolicy) -> int:
    return policy.metric.period_s if isinstance(policy.metric, CustomMetric) else 60


# Signals and histories come from a generator seeded by hypothesis: one draw per evaluation
# instead of dozens keeps several hundred multi-step examples within the unit-test budget.
LEVELS = [0.0, 0.5, 0.9, 1.0, 1.05, 1.5, 3.0]  # multiples of the target value, around the thresholds


def make_series(
    rng: random.Random, policy: TargetTrackingPolicy, now: datetime, fresh: bool = False
) -> list[Datapoint]:
    """Points ending now (fresh), ending long ago (stale), or none, around a level."""
    shape = "fresh" if fresh else rng.choices(["fresh", "stale", "none"], weights=[70, 15, 15])[0]
    if shape == "none":
        return []
    period = period_of(policy)
    end = now if shape == "fresh" else now - timedelta(seconds=period * rng.randint(4, 30))
    count = 25 if rng.random() < 0.7 else rng.randint(1, 24)  # mostly enough for any window
    level = rng.choice(LEVELS) * policy.target_value
    spread = rng.choice([0.0, 0.05, 0.3])
    values = [max(0.0, level * (1 + rng.uniform(-spread, spread))) for _ in range(count)]
    return [
        Datapoint(timestamp=end - timedelta(seconds=period * (count - 1 - i)), value=v) for i, v in enumerate(values)
    ]


def make_alarm(rng: random.Random, policy: StepScalingPolicy) -> AlarmObservation | None:
    if rng.random() < 0.2:
        return None

    def reading() -> float | None:
        return None if rng.random() < 0.1 else rng.uniform(-100, 200)

    state = rng.choice(list(AlarmState))
    return AlarmObservation(name=policy.alarm_name, state=state, value=reading(), threshold=reading())


def maybe_capacity(rng: random.Random) -> int | None:
    return None if rng.random() < 0.5 else rng.randint(0, 60)


def make_signal(
    rng: random.Random,
    target: Target,
    now: datetime,
    current: int | None = None,
    with_resource: bool = True,
    fresh: bool = False,
) -> Signal:
    metrics = {p.name: make_series(rng, p, now, fresh) for p in target.policies if isinstance(p, TargetTrackingPolicy)}
    observed = [make_alarm(rng, p) for p in target.policies if isinstance(p, StepScalingPolicy)]
    resource = ResourceBounds(min=maybe_capacity(rng), max=maybe_capacity(rng)) if with_resource else ResourceBounds()
    # Mostly inside [min, max], sometimes just outside it (a target whose bounds just changed).
    capacity = rng.randint(max(0, target.min - 3), target.max + 3) if current is None else current
    return Signal(
        current_capacity=capacity,
        # Units serving: not told, all of them, some still starting, or more (an ECS deployment).
        serving_capacity=rng.choice([None, capacity, max(0, capacity - rng.randint(1, 3)), capacity * 2]),
        metrics=metrics,
        alarms={a.name: a for a in observed if a is not None},
        resource_bounds=resource,
        scale_in_suspended="ECS deployment ecs-svc/1 in progress" if rng.random() < 0.1 else None,
    )


def make_history(rng: random.Random, target: Target, now: datetime) -> TargetHistory:
    def ago() -> datetime:
        return now - timedelta(seconds=rng.randint(0, 1_000))

    def change() -> CapacityChange | None:
        if rng.random() < 0.4:
            return None
        capacity = rng.randint(0, 60)
        return CapacityChange(
            at=ago(), capacity=capacity, before=rng.choice([None, max(0, capacity - rng.randint(0, 5))])
        )

    names = [p.name for p in target.policies if not isinstance(p, ScheduledPolicy)]
    recommendations = [Recommendation(at=ago(), capacity=rng.randint(0, 60)) for _ in range(rng.randint(0, 10))]
    return TargetHistory(
        last_scale_out=change(),
        last_scale_in=change(),
        last_action_by_policy={n: ago() for n in names if rng.random() < 0.5},
        recommendations=sorted(recommendations, key=lambda r: r.at),
    )


seeds = st.integers(0, 2**32 - 1).map(random.Random)


moments = st.integers(0, 60 * 24 * 45).map(lambda m: NOW + timedelta(minutes=m))


@st.composite
def scenarios(draw: st.DrawFn, paused: bool = False) -> tuple[Target, Signal, TargetHistory, datetime]:
    now = draw(moments)
    target = draw(targets(draw(policy_sets()), paused=paused))
    rng = draw(seeds)
    return target, make_signal(rng, target, now), make_history(rng, target, now), now


@PROPERTY_SETTINGS
@given(scenarios())
def test_given_any_unpaused_target_when_deciding_then_final_stays_within_min_and_max(
    scenario: tuple[Target, Signal, TargetHistory, datetime],
) -> None:
    target, signal, history, now = scenario

    result = decide(target, signal, history, now)

    assert target.min <= result.effective_min <= result.final <= result.effective_max <= target.max
    expected = (
        Action.OUT if result.final > result.current else Action.IN if result.final < result.current else Action.NONE
    )
    assert result.action is expected
    assert result.explanation.endswith(".")
    assert len(result.reasons) == len(set(result.reasons))


# The words a sentence may only use when the reason behind them applied (and the action allows them).
CLAIMS = {
    "Marea never scales in on missing data": ReasonCode.HOLD_ON_MISSING_DATA,
    "scale-in needs every policy to agree": ReasonCode.SCALE_IN_VETOED,
    "blocks it for another": ReasonCode.COOLDOWN,
    "stabilised to": ReasonCode.STABILIZATION,
    "scale-in suspended": ReasonCode.SCALE_IN_SUSPENDED,
}
SCALE_IN_VETOES = ("Marea never scales in on missing data", "scale-in needs every policy to agree")


def bound_phrase(reason: ReasonCode, low: int, high: int) -> str | None:
    """How the sentence names the bound behind a clamp reason, with the capacity it set."""
    phrases = {
        ReasonCode.CLAMPED_TO_MIN: f"raised to the target's min {low}",
        ReasonCode.CLAMPED_TO_MAX: f"capped at the target's max {high}",
        ReasonCode.SCHEDULED_FLOOR: f"raised to the scheduled floor {low}",
        ReasonCode.SCHEDULED_CEILING: f"lowered to the scheduled ceiling {high}",
        ReasonCode.CLAMPED_TO_RESOURCE_MIN: f"raised to the resource's own min {low}",
        ReasonCode.CLAMPED_TO_RESOURCE_MAX: f"capped at the resource's own max {high}",
    }
    return phrases.get(reason)


@PROPERTY_SETTINGS
@given(scenarios())
def test_given_any_decision_when_explained_then_the_sentence_matches_the_action_and_names_what_decided(
    scenario: tuple[Target, Signal, TargetHistory, datetime],
) -> None:
    target, signal, history, now = scenario

    result = decide(target, signal, history, now)

    sentence, current, final = result.explanation, result.current, result.final
    headline = {
        Action.OUT: f"Scale out from {current} to {final}: ",
        Action.IN: f"Scale in from {current} to {final}: ",
        Action.NONE: f"Hold at {current}: ",
    }[result.action]
    assert sentence.startswith(headline), sentence
    for claim, reason in CLAIMS.items():
        if claim in sentence:
            assert reason in result.reasons, sentence
    if result.action is Action.IN:
        assert not any(veto in sentence for veto in SCALE_IN_VETOES), sentence
    bounds = [bound_phrase(r, result.effective_min, result.effective_max) for r in result.reasons]
    named = [phrase for phrase in bounds if phrase is not None]
    for phrase in named:
        assert phrase in sentence, sentence
    if result.action is not Action.NONE and result.policy is None and named:
        # No policy asked for this change: the bound that forced it is the cause, named first.
        assert sentence.removeprefix(headline).startswith(named[0]), sentence
    if result.proposed != result.final:
        # The normaliser changed the policies' proposal: the sentence says which constraint did.
        constraints = {"stabilised to", "blocks it for another", "scale-in suspended", *named}
        assert any(phrase in sentence for phrase in constraints), sentence


@PROPERTY_SETTINGS
@given(scenarios(paused=True))
def test_given_a_paused_target_when_deciding_then_capacity_never_moves(
    scenario: tuple[Target, Signal, TargetHistory, datetime],
) -> None:
    target, signal, history, now = scenario

    result = decide(target, signal, history, now)

    assert (result.final, result.action) == (signal.current_capacity, Action.NONE)


@PROPERTY_SETTINGS
@given(st.data())
def test_given_load_exactly_at_target_when_evaluated_repeatedly_then_capacity_never_changes(
    data: st.DataObject,
) -> None:
    policies = [data.draw(tt_policies(f"tt{i}")) for i in range(data.draw(st.integers(1, 3)))]
    target = data.draw(targets(policies))
    current = data.draw(st.integers(target.min, target.max))
    now = data.draw(moments)
    rng = data.draw(seeds)
    history = make_history(rng, target, now)
    for _ in range(12):
        metrics = {
            p.name: [
                Datapoint(timestamp=now - timedelta(seconds=period_of(p) * k), value=p.target_value) for k in range(25)
            ]
            for p in policies
        }
        result = decide(target, Signal(current_capacity=current, metrics=metrics), history, now)

        assert (result.final, result.action) == (current, Action.NONE), result.explanation
        history = remember(history, target, result, applied=True, now=now)
        now += timedelta(seconds=rng.randint(10, 300))


@PROPERTY_SETTINGS
@given(st.data())
def test_given_a_policy_without_usable_data_when_deciding_then_never_scale_in(data: st.DataObject) -> None:
    now = data.draw(moments)
    blind = data.draw(st.sampled_from(["tt-none", "tt-stale", "alarm-missing", "alarm-insufficient"]))
    if blind.startswith("tt"):
        blind_policy: TargetTrackingPolicy | StepScalingPolicy = data.draw(tt_policies("blind"))
    else:
        blind_policy = data.draw(step_policies("blind"))
    others = data.draw(policy_sets(schedules=0))
    target = data.draw(targets([*others, blind_policy]))
    current = data.draw(st.integers(target.min, target.max))
    rng = data.draw(seeds)
    signal = make_signal(rng, target, now, current=current, with_resource=False)
    if isinstance(blind_policy, TargetTrackingPolicy):
        # A long, idle, stale series: only its age keeps it from asking to scale in.
        points = [] if blind == "tt-none" else make_series(rng, blind_policy, now - timedelta(hours=1), fresh=True)
        signal = signal.model_copy(update={"metrics": {**signal.metrics, "blind": points}})
    else:
        alarms = {k: v for k, v in signal.alarms.items() if k != blind_policy.alarm_name}
        if blind == "alarm-insufficient":
            alarms[blind_policy.alarm_name] = AlarmObservation(
                name=blind_policy.alarm_name, state=AlarmState.INSUFFICIENT_DATA
            )
        signal = signal.model_copy(update={"alarms": alarms})

    # An empty history: no stabilisation window or cooldown can mask a scale-in.
    result = decide(target, signal, TargetHistory(), now)

    assert result.action is not Action.IN, result.explanation


@PROPERTY_SETTINGS
@given(st.data())
def test_given_recent_changes_when_an_ecs_service_is_evaluated_repeatedly_then_no_scale_in_within_the_cooldown(
    data: st.DataObject,
) -> None:
    policies = [data.draw(tt_policies(f"tt{i}")) for i in range(data.draw(st.integers(1, 2)))]
    by_name = {p.name: p for p in policies}
    target = data.draw(targets(policies, ecs=True))
    now = data.draw(moments)
    rng = data.draw(seeds)
    history = make_history(rng, target, now)
    current = data.draw(st.integers(target.min, target.max))
    for _ in range(8):
        signal = make_signal(rng, target, now, current=current, with_resource=False, fresh=True)
        result = decide(target, signal, history, now)

        if result.action is Action.IN and result.policy is not None:
            policy = by_name[result.policy]
            changes = [c.at for c in (history.last_scale_in, history.last_scale_out) if c is not None]
            assert all(now >= at + timedelta(seconds=policy.scale_in_cooldown_s) for at in changes)
        history = remember(history, target, result, applied=True, now=now)
        current = result.final
        now += timedelta(seconds=rng.randint(10, 400))


@PROPERTY_SETTINGS
@given(st.data())
def test_given_repeated_evaluations_when_a_target_follows_ec2_rules_then_no_cooldown_ever_holds_it(
    data: st.DataObject,
) -> None:
    target = data.draw(targets(data.draw(policy_sets(schedules=0)), ecs=False))
    now = data.draw(moments)
    rng = data.draw(seeds)
    history = make_history(rng, target, now)
    current = data.draw(st.integers(target.min, target.max))
    for _ in range(6):
        result = decide(target, make_signal(rng, target, now, current=current), history, now)

        assert ReasonCode.COOLDOWN not in result.reasons, result.explanation
        assert all(ReasonCode.COOLDOWN not in r.reasons for r in result.policy_results)
        history = remember(history, target, result, applied=True, now=now)
        current = result.final
        now += timedelta(seconds=rng.randint(10, 400))
