"""Decision records built from what an evaluation found: pure functions, no I/O.

The evaluator, the unsettled-actuation recovery and the runner lease all record decisions; they
build them here, so that one decision always has the same shape whichever path wrote it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.evaluation import Evaluation
from chalicelib.models.decisions import Action, Decision, EngineResult, Outcome, Trigger
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.targets import Mode, Target, TargetBase, TargetTrackingPolicy


def evaluated(
    evaluation: Evaluation, result: EngineResult, signal: dict[str, Any], outcome: Outcome, extra: list[ReasonCode]
) -> Decision:
    """The decision an evaluation reached, with everything it read as inputs."""
    target, reading = evaluation.target, evaluation.reading
    return Decision(
        id=evaluation.decision_id,
        target_id=target.id,
        target_kind=target.kind,
        trigger=evaluation.trigger,
        mode=target.mode,
        current=result.current,
        proposed=result.proposed,
        final=result.final,
        action=result.action,
        policy=result.policy,
        outcome=outcome,
        reasons=list(dict.fromkeys([*result.reasons, *extra])),
        explanation=result.explanation,
        policy_results=result.policy_results,
        inputs={
            "capacity": reading.details | {"current": reading.current},
            "resource_bounds": signal["resource_bounds"],
            "metrics": recorded_metrics(target, signal["metrics"]),
            "datapoints_read": {name: len(points) for name, points in signal["metrics"].items()},
            "alarms": signal["alarms"],
            "effective_min": result.effective_min,
            "effective_max": result.effective_max,
            "target_min": target.min,
            "target_max": target.max,
        },
        created_at=evaluation.at,
    )


# A decision item must stay well under DynamoDB's 400 KB: at most this many datapoints of each
# policy's series are recorded (about 7 KB), the newest, however far back the policy read.
MAX_RECORDED_DATAPOINTS = 120


def recorded_metrics(target: TargetBase, metrics: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The newest datapoints of each series that its policy's windows used, at most MAX_RECORDED_DATAPOINTS."""
    windows = {
        p.name: max(p.scale_out_datapoints, p.scale_in_window)
        for p in target.policies
        if isinstance(p, TargetTrackingPolicy)
    }
    kept = {}
    for name, points in metrics.items():
        keep = min(windows.get(name, MAX_RECORDED_DATAPOINTS), MAX_RECORDED_DATAPOINTS)
        kept[name] = points[-keep:] if keep else []
    return kept


def within_ceiling(decision: Decision, ceiling: int, setting: str, target_max: int) -> Decision:
    """The decision was made within the stage's ceiling, which is below the target's own max."""
    return decision.model_copy(
        update={
            "reasons": [*decision.reasons, ReasonCode.CEILING_BELOW_MAX],
            "explanation": (
                f"{decision.explanation} This stage's ceiling for {decision.target_kind} targets is {ceiling} "
                f"({setting}), below the target's max {target_max}: Marea decided within it."
            ),
        }
    )


def initial_outcome(mode: Mode, acting: bool) -> tuple[Outcome, list[ReasonCode]]:
    """Advise mode recommends; an acting decision is pending until acted on; the rest is skipped."""
    if mode is Mode.ADVISE:
        return Outcome.RECOMMENDED, [ReasonCode.ADVISE_MODE]
    return (Outcome.PENDING if acting else Outcome.SKIPPED), []


def not_acted(decision: Decision, reason: ReasonCode, explanation: str) -> Decision:
    """The decision would have acted but did not: recorded as skipped, keeping what it would have chosen."""
    return decision.model_copy(
        update={
            "outcome": Outcome.SKIPPED,
            "final": decision.current,
            "action": Action.NONE,
            "reasons": [*decision.reasons, reason],
            "explanation": explanation,
        }
    )


def waiting(decision: Decision, busy_with: str) -> Decision:
    """An earlier decision may still be changing the target: this one is recorded, never acted on."""
    return not_acted(
        decision,
        ReasonCode.ACTUATION_IN_PROGRESS,
        f"Waiting: decision {busy_with} may still be changing {decision.target_id}, so this one did not act "
        f"(it would have chosen {decision.final}).",
    )


def not_allowed(decision: Decision, refusal: str, would_act: bool) -> Decision:
    """The target names a resource the stage's allow-list leaves out: recorded, never acted on."""
    why = f"{refusal}; it can still be read and deleted, or pointed at an allowed resource"
    if would_act:
        return not_acted(
            decision,
            ReasonCode.RESOURCE_NOT_ALLOWED,
            f"Not acted on: {why} (it would have chosen {decision.final}).",
        )
    return decision.model_copy(
        update={
            "reasons": [*decision.reasons, ReasonCode.RESOURCE_NOT_ALLOWED],
            "explanation": f"{decision.explanation} Marea would not act on it: {why}.",
        }
    )


def raced(decision: Decision) -> Decision:
    """A racing evaluation or API write changed the target first."""
    return not_acted(
        decision,
        ReasonCode.CONCURRENT_EVALUATION,
        f"Superseded: another evaluation of {decision.target_id} committed first, so this one did not act "
        f"(it would have chosen {decision.final}).",
    )


def failure(
    evaluation_id: str,
    trigger: Trigger,
    target: Target,
    at: datetime,
    reason: ReasonCode,
    explanation: str,
    error: str,
    unreachable: bool = False,
) -> Decision:
    """Nothing could be decided (the capacity or an AWS call failed): a failed decision says why.
    ``unreachable``: because the target's account or Region could not be reached (ACCOUNT_UNREACHABLE too)."""
    return Decision(
        id=evaluation_id,
        target_id=target.id,
        target_kind=target.kind,
        trigger=trigger,
        mode=target.mode,
        current=0,
        proposed=0,
        final=0,
        action=Action.NONE,
        policy=None,
        outcome=Outcome.FAILED,
        reasons=[reason, ReasonCode.ACCOUNT_UNREACHABLE] if unreachable else [reason],
        explanation=explanation,
        policy_results=[],
        error=error,
        created_at=at,
    )


def closed(
    decision: Decision,
    outcome: Outcome,
    at: datetime,
    *,
    reason: ReasonCode | None = None,
    error: str | None = None,
    runner: Any = None,
    note: str | None = None,
    because: str | None = None,
) -> Decision:
    """A pending decision's outcome. ``note``: how the outcome was learnt (inputs.actuation);
    ``because``: a sentence appended to the explanation (why a queued decision never ran)."""
    inputs = {**decision.inputs, "runner_result": runner} if runner is not None else dict(decision.inputs)
    if note is not None:
        inputs["actuation"] = note
    update: dict[str, Any] = {
        "outcome": outcome,
        "reasons": [*decision.reasons, reason] if reason else decision.reasons,
        "error": error,
        "inputs": inputs,
        "updated_at": at,
    }
    if because is not None:
        update["explanation"] = f"{decision.explanation} {because}"
    return decision.model_copy(update=update)
