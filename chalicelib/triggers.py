"""Use cases behind the Lambda handlers: alarm events, schedule ticks, fan-out messages, manual runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from chalicelib import aws, wiring
from chalicelib.chunks import chunks
from chalicelib.constants import RUNNER_TASK_GROUP
from chalicelib.errors import MalformedEventError
from chalicelib.models.decisions import Decision, Trigger, TriggerType
from chalicelib.models.events import (
    TARGETS_PER_MESSAGE,
    AlarmStateChangeEvent,
    EvaluationMessage,
    ScheduledTickEvent,
    TaskStateChangeEvent,
    parse_event,
)
from chalicelib.models.signals import AlarmObservation, Datapoint
from chalicelib.models.state import StoredTarget
from chalicelib.models.targets import TargetBase
from chalicelib.observability import count, logger
from chalicelib.service import utc_now
from chalicelib.settings import get_settings
from chalicelib.shared_reads import SharedReads
from chalicelib.signal_collector import MetricKey

_SQS_BATCH = 10  # SendMessageBatch limit


def handle_alarm_event(raw: dict[str, Any], own_account: str | None = None) -> list[Decision]:
    """Evaluate at once every target linked to the alarm that changed state (``own_account``: Marea's, when known)."""
    event = parse_event(AlarmStateChangeEvent, raw)
    observation = event.to_observation()
    trigger = Trigger(
        type=TriggerType.ALARM,
        event_id=event.id,
        alarm_name=event.alarm_name,
        alarm_state=observation.state.value,
        at=event.time,
    )
    named = wiring.registry().by_alarm(event.alarm_name)
    targets = [s for s in named if _alarm_is_theirs(s.target, event.account, event.region, own_account)]
    if not targets:
        logger().warning("alarm is linked to no target", extra={"alarm_name": event.alarm_name, "event_id": event.id})
    return evaluate_together(targets, trigger, {observation.name: observation}, breaching_datapoints(event))


def _alarm_is_theirs(target: TargetBase, account: str, region: str, own_account: str | None) -> bool:
    """Whether an alarm of ``account`` and ``region`` is the one ``target``'s policies name (a step policy's, or a
    target-tracking policy's trigger).

    Alarm names are unique only within an account and Region: a target takes the alarm events of its own
    account and Region only (docs/multi-account.md), never the datapoints of a namesake. Marea's own account
    is known from the invocation (``own_account``); where it is not (a local invocation), a target in Marea's
    own account takes the events of every account, as before targets could live elsewhere.
    """
    location = target.location
    home_region = get_settings().home_region
    if location.region is not None and location.region != region:
        return False
    if location.region is None and home_region is not None and home_region != region:
        return False
    if location.account_id is not None:
        return location.account_id == account
    return own_account is None or own_account == account


def evaluate_together(
    targets: list[StoredTarget],
    trigger: Trigger,
    known_alarms: dict[str, AlarmObservation] | None = None,
    known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
) -> list[Decision]:
    """Evaluate ``targets`` on reads made together (shared_reads.py), each recorded on its own.

    Should reading together fail unexpectedly, each evaluation reads alone: a fault in the batch
    never keeps a target from being evaluated.
    """
    evaluator = wiring.evaluator()
    shared: SharedReads | None = None
    if targets:
        try:
            shared = evaluator.read_together(targets, trigger, known_alarms, known_metrics)
        except Exception:  # the boundary of the batched reads: logged with the stack, then each reads alone
            logger().exception("reads of the batch failed; each target reads alone", extra={"targets": len(targets)})
    return evaluate_each(
        targets, lambda stored: evaluator.evaluate(stored, trigger, known_alarms, known_metrics, shared)
    )


def evaluate_each(targets: Iterable[StoredTarget], evaluate: Callable[[StoredTarget], Decision]) -> list[Decision]:
    """Evaluate every target even when one fails, then fail the invocation so that it is retried.

    One target whose evaluation cannot be recorded must not starve the others; on the retry the
    targets already decided are duplicates (their decision ids are derived from the event id).
    """
    decisions: list[Decision] = []
    failures: list[Exception] = []
    for stored in targets:
        try:
            decisions.append(evaluate(stored))
        except Exception as exc:  # the boundary of one target's evaluation: logged with the stack, re-raised below
            logger().exception("evaluation not recorded", extra={"target_id": stored.target.id})
            failures.append(exc)
    if failures:
        raise failures[0]
    return decisions


def breaching_datapoints(event: AlarmStateChangeEvent) -> dict[MetricKey, list[Datapoint]]:
    """The datapoints an ALARM event carries, keyed by the metric they measure.

    They are the alarm's few evaluated periods, not a policy's series: the signal collector uses
    them for a target-tracking policy on the alarm's own metric only when they decide every window
    the policy evaluates (one call less on the path that meets a spike), and reads CloudWatch
    otherwise (docs/aws-semantics.md, "The datapoints an alarm event carries"). Only for ALARM: a
    recovery (OK) is judged on the full scale-in window, read from CloudWatch.
    """
    reason = event.reason_data
    queries = event.detail.configuration.metrics
    if event.detail.state.value != "ALARM" or reason is None or len(queries) != 1 or queries[0].metric_stat is None:
        return {}
    stat = queries[0].metric_stat
    points = [
        Datapoint(timestamp=p.timestamp, value=p.value) for p in reason.evaluated_datapoints if p.value is not None
    ]
    if not points:
        return {}
    dimensions = tuple(sorted(stat.metric.dimensions.items()))
    return {
        (stat.metric.namespace, stat.metric.name, dimensions, stat.stat, stat.period): sorted(
            points, key=lambda p: p.timestamp
        )
    }


def handle_tick(raw: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
    """Evaluate every unpaused target; beyond the inline limit, fan out through SQS."""
    event = parse_event(ScheduledTickEvent, raw)
    dispatch, config = _dispatch_tick_once()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # lets Idempotency expire an in-progress tick on timeout
    result: dict[str, Any] = dispatch(tick={"event_id": event.id, "at": event.time.isoformat()})
    return result


def _dispatch_tick(tick: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    trigger = Trigger(type=TriggerType.SCHEDULE, event_id=tick["event_id"], at=tick["at"])
    targets = [t for t in wiring.registry().iter_all() if not t.target.paused]
    if len(targets) <= settings.inline_evaluation_limit or not settings.fanout_queue_url:
        decisions = evaluate_together(targets, trigger)
        return {"evaluated": len(decisions), "enqueued": 0, **_summary(decisions)}
    enqueued = _enqueue(settings.fanout_queue_url, trigger, [t.target.id for t in targets])
    count("TargetsEnqueued", value=enqueued)
    return {"evaluated": 0, "enqueued": enqueued, "decisions": []}


@lru_cache(maxsize=1)
def _dispatch_tick_once() -> Any:
    """The tick dispatcher behind Powertools Idempotency: a redelivered tick does not fan out twice."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    layer = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=aws.dynamodb())
    config = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=3600)
    dispatch = idempotent_function(data_keyword_argument="tick", persistence_store=layer, config=config)(_dispatch_tick)
    return dispatch, config


def _enqueue(queue_url: str, trigger: Trigger, target_ids: list[str]) -> int:
    """Send the targets in shares of TARGETS_PER_MESSAGE, ten messages per SendMessageBatch; returns
    how many targets were enqueued."""
    messages = [
        EvaluationMessage(
            target_ids=tuple(share), trigger_type=trigger.type, event_id=trigger.event_id or "tick", at=trigger.at
        ).model_dump_json(exclude_defaults=True)
        for share in chunks(target_ids, TARGETS_PER_MESSAGE)
    ]
    for batch in chunks(messages, _SQS_BATCH):
        entries: Any = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(batch)]
        response = aws.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = response.get("Failed", [])
        if failed:
            # Raise so the schedule invocation is retried; decision ids dedupe the targets already done.
            raise RuntimeError(f"SQS refused {len(failed)} evaluation messages: {failed[0].get('Message')}")
    return len(target_ids)


def handle_evaluation_message(body: str, message_id: str) -> list[Decision]:
    """One fanned-out share of a tick, evaluated together. A target deleted or paused since the tick is
    skipped, not an error."""
    message = parse_event(EvaluationMessage, body)
    found = wiring.registry().get_many(message.targets)
    gone = {i for i in message.targets if i not in found or found[i].target.paused}
    if gone:
        logger().info(
            "targets gone or paused since the tick", extra={"target_ids": sorted(gone)[:10], "count": len(gone)}
        )
    targets = [found[i] for i in message.targets if i not in gone]
    trigger = Trigger(type=TriggerType(message.trigger_type), event_id=message.event_id or None, at=message.at)
    return evaluate_together(targets, trigger)


def handle_task_state_change(raw: dict[str, Any]) -> dict[str, Any]:
    """A kops runner task stopped: close its decision and pass the lease on."""
    event = parse_event(TaskStateChangeEvent, raw)
    detail = event.detail
    if detail.last_status != "STOPPED" or detail.group != RUNNER_TASK_GROUP or not detail.started_by:
        return {"ignored": f"not a stopped Marea runner task ({detail.task_arn})"}
    runner = get_settings().kops_runner()
    # The EventBridge rule filters on the runner cluster too; the handler does not rely on the rule alone.
    if runner is None or not _is_cluster(detail.cluster_arn, runner.ecs_cluster):
        logger().warning(
            "runner event of another ECS cluster ignored",
            extra={"cluster_arn": detail.cluster_arn, "task_arn": detail.task_arn, "event_id": event.id},
        )
        count("MismatchedRunnerEvents", "kops")
        return {"ignored": f"not a task of this stage's runner cluster ({detail.cluster_arn})"}
    decision = wiring.evaluator().complete_runner(
        detail.started_by, detail.exit_code, detail.stopped_reason or "", event.time, task_arn=detail.task_arn
    )
    if decision is None:
        logger().info("runner event for no pending decision", extra={"task_arn": detail.task_arn, "event_id": event.id})
        return {"ignored": f"no pending decision {detail.started_by}"}
    return _summary([decision])


def _is_cluster(cluster_arn: str | None, configured: str) -> bool:
    """Whether an event's cluster ARN is the configured cluster (MAREA_KOPS_RUNNER_CLUSTER: its name or ARN)."""
    if not cluster_arn:
        return False
    if configured.startswith("arn:"):
        return cluster_arn == configured
    return cluster_arn.split(":", 5)[-1] == f"cluster/{configured}"


def evaluate_now(target_id: str) -> Decision:
    """A manual evaluation (POST /targets/{id}/evaluate): always a fresh decision."""
    stored: StoredTarget = wiring.registry().require(target_id)
    return wiring.evaluator().evaluate(stored, Trigger(type=TriggerType.MANUAL, at=utc_now()))


def _rejecting_malformed(raw: Any, run: Any) -> dict[str, Any]:
    """A malformed event is logged with its id and rejected; retrying it would not fix it."""
    try:
        return dict(run())
    except MalformedEventError as exc:
        event_id = raw.get("id") if isinstance(raw, dict) else None
        logger().error("malformed event rejected", extra={"event_id": event_id, "error": exc.message})
        count("MalformedEvents")
        return {"rejected": True, "code": exc.code, "message": exc.message}


def _summary(decisions: list[Decision]) -> dict[str, Any]:
    return {
        "decisions": [
            {"id": d.id, "target_id": d.target_id, "outcome": d.outcome.value, "final": d.final} for d in decisions
        ]
    }


def on_alarm_event(raw: Any, lambda_context: Any = None) -> dict[str, Any]:
    """Lambda entry for CloudWatch Alarm State Change events."""
    own = _account_of(lambda_context)
    return _rejecting_malformed(raw, lambda: _summary(handle_alarm_event(raw, own_account=own)))


def _account_of(lambda_context: Any) -> str | None:
    """Marea's own account, from the invoked function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME); None
    where the context gives none (a local invocation)."""
    parts = str(getattr(lambda_context, "invoked_function_arn", "") or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def on_schedule_tick(raw: Any, lambda_context: Any = None) -> dict[str, Any]:
    """Lambda entry for the EventBridge schedule."""
    return _rejecting_malformed(raw, lambda: handle_tick(raw, lambda_context))


def on_task_state_change(raw: Any) -> dict[str, Any]:
    """Lambda entry for ECS Task State Change events of kops runner tasks."""
    return _rejecting_malformed(raw, lambda: handle_task_state_change(raw))


def on_evaluation_message(body: str, message_id: str) -> dict[str, Any]:
    """Lambda entry for one fan-out SQS message."""

    def run() -> dict[str, Any]:
        return _summary(handle_evaluation_message(body, message_id))

    return _rejecting_malformed({"id": message_id}, run)
