"""At-least-once delivery of events to Marea's Lambda handlers, from threads and processes.

Handlers are called as Lambda calls them: the app's handler objects (``app.on_alarm_state_change``
and the others) with the event and a Lambda context (chalice.local.LambdaContext, the object
`chalice local` passes). chalice.test.Client is not used here: its invoke swaps os.environ, which
is not thread-safe. A delivery whose handler raises is delivered again, as EventBridge and Lambda's
asynchronous invocation do, up to a bound.

``Probe`` counts, in one process, the AWS calls Marea's own clients make (botocore hooks on the
clients chalicelib.aws hands out), the HTTP attempts of each call (retries included), every
RunTask's client token, and every actuation with the decision that made it (a spy on the ASG and
ECS actuators' ``apply`` and the kops actuator's ``start``).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

from tests.reliability.faults import FaultInjector, FaultPlan, short_backoff

# Lambda's remaining time as the handlers see it: Powertools Idempotency lets an in-progress tick
# record expire after it, so a tick whose invocation died is retried after this long.
CONTEXT_RUNTIME_MS = 300
_HOOK = "marea-reliability-probe"
_RUN_TASK_PARAMS = "before-parameter-build.ecs.RunTask"


@dataclass(frozen=True)
class Delivery:
    """One event for one handler (``handler`` is its name in app.py), labelled for the report."""

    label: str
    handler: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Actuation:
    decision_id: str
    target_id: str
    capacity: int


@dataclass
class Report:
    """What one process saw; reports of several processes add up (``merge``)."""

    invocations: Counter[str] = field(default_factory=Counter)  # per delivery label
    delivered: set[str] = field(default_factory=set)  # labels whose handler returned
    errors: list[str] = field(default_factory=list)  # handler exceptions (each one caused a redelivery)
    calls: Counter[str] = field(default_factory=Counter)  # "service.Operation" -> logical calls
    attempts: Counter[int] = field(default_factory=Counter)  # HTTP attempts per logical call -> calls
    actuations: list[Actuation] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    faulted_calls: Counter[str] = field(default_factory=Counter)  # "service.Operation" -> attempts faulted
    run_task_tokens: Counter[str] = field(default_factory=Counter)  # RunTask calls by client token (decision)

    def merge(self, other: Report) -> None:
        self.invocations.update(other.invocations)
        self.delivered |= other.delivered
        self.errors.extend(other.errors)
        self.calls.update(other.calls)
        self.attempts.update(other.attempts)
        self.actuations.extend(other.actuations)
        self.faults.update(other.faults)
        self.faulted_calls.update(other.faulted_calls)
        self.run_task_tokens.update(other.run_task_tokens)


class Probe:
    def __init__(self, report: Report) -> None:
        self.report = report
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def installed(self) -> Iterator[Probe]:
        from chalicelib import aws
        from chalicelib.actuators.asg import AsgActuator
        from chalicelib.actuators.ecs import EcsActuator
        from chalicelib.actuators.kops import KopsActuator

        clients: list[Any] = [f() for f in (aws.dynamodb, aws.autoscaling, aws.ecs, aws.cloudwatch, aws.sqs)]
        handlers = {
            "before-call": self._before_call,
            "request-created": self._attempt,  # once per HTTP attempt, before any before-send hook can raise
            "after-call": self._after_call,
            "after-call-error": self._after_call,
        }
        for client in clients:
            for event, handler in handlers.items():
                client.meta.events.register(event, handler, unique_id=f"{_HOOK}-{event}")
        aws.ecs().meta.events.register(_RUN_TASK_PARAMS, self._run_task, unique_id=_HOOK)
        with ExitStack() as stack:
            for actuator, method in ((AsgActuator, "apply"), (EcsActuator, "apply"), (KopsActuator, "start")):
                stack.enter_context(patch.object(actuator, method, self._spy(getattr(actuator, method))))
            try:
                yield self
            finally:
                for client in clients:
                    for event in handlers:
                        client.meta.events.unregister(event, unique_id=f"{_HOOK}-{event}")
                aws.ecs().meta.events.unregister(_RUN_TASK_PARAMS, unique_id=_HOOK)

    def _spy(self, apply: Any) -> Any:
        def spied(actuator: Any, target: Any, capacity: int, decision_id: str, *more: Any) -> Any:
            with self._lock:
                self.report.actuations.append(Actuation(decision_id, target.id, capacity))
            return apply(actuator, target, capacity, decision_id, *more)

        return spied

    def _run_task(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.report.run_task_tokens[str(params.get("clientToken"))] += 1

    def _before_call(self, model: Any, **_: Any) -> None:
        self._local.attempts = 0
        with self._lock:
            self.report.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _attempt(self, **_: Any) -> None:
        self._local.attempts = getattr(self._local, "attempts", 0) + 1

    def _after_call(self, **_: Any) -> None:
        with self._lock:
            self.report.attempts[getattr(self._local, "attempts", 0)] += 1


def invoke(delivery: Delivery) -> Any:
    """Call the handler as Lambda would."""
    from chalice.local import LambdaContext

    import app as application

    handler = getattr(application, delivery.handler)
    context = LambdaContext(delivery.handler, memory_size=512, max_runtime_ms=CONTEXT_RUNTIME_MS)
    return handler(delivery.event, context)


def deliver(delivery: Delivery, report: Report, max_invocations: int, pause_s: float) -> None:
    """Deliver until the handler returns, at most ``max_invocations`` times (a Lambda retry on each raise)."""
    for _ in range(max_invocations):
        report.invocations[delivery.label] += 1
        try:
            invoke(delivery)
        except Exception as exc:  # a Lambda invocation error: the platform redelivers the event
            report.errors.append(f"{delivery.label}: {type(exc).__name__}: {exc}")
            time.sleep(pause_s)
            continue
        report.delivered.add(delivery.label)
        return


@dataclass(frozen=True)
class Plan:
    """How to deliver: threads per process, extra processes, faults, redelivery bound."""

    threads: int = 3
    processes: int = 0
    faults: FaultPlan | None = None
    max_invocations: int = 8
    # Lambda retries a failed asynchronous invocation after a minute or more: past the in-progress
    # expiry of a tick's idempotency record (CONTEXT_RUNTIME_MS), scaled down here.
    pause_s: float = 0.4


def run_threads(deliveries: list[Delivery], plan: Plan, start_line: Callable[[], object] | None = None) -> Report:
    """Deliver in ``plan.threads`` threads of this process, all starting together (after ``start_line``)."""
    report = Report()
    lanes: list[list[Delivery]] = [deliveries[i :: plan.threads] for i in range(plan.threads)]
    lanes = [lane for lane in lanes if lane]
    ready = threading.Barrier(len(lanes) + 1) if lanes else None
    lock = threading.Lock()

    def lane_worker(lane: list[Delivery]) -> None:
        own = Report()
        if ready is not None:
            ready.wait()
        for delivery in lane:
            deliver(delivery, own, plan.max_invocations, plan.pause_s)
        with lock:
            report.merge(own)

    injector = FaultInjector(plan.faults) if plan.faults is not None else None
    with Probe(report).installed(), short_backoff() if injector is not None else nullcontext():
        if injector is not None:
            injector.install()
        try:
            workers = [threading.Thread(target=lane_worker, args=(lane,), daemon=True) for lane in lanes]
            for worker in workers:
                worker.start()
            if start_line is not None:
                start_line()
            if ready is not None:
                ready.wait()
            for worker in workers:
                worker.join()
        finally:
            if injector is not None:
                injector.uninstall()
                report.faults.update(injector.injected)
                report.faulted_calls.update(injector.injected_into)
    return report


def _process_main(deliveries: list[Delivery], plan: Plan, start: Any, results: Any) -> None:
    """Entry point of a delivering process (spawned: a fresh interpreter, like a new Lambda container)."""
    try:
        from chalicelib import aws

        for factory in (aws.dynamodb, aws.autoscaling, aws.ecs, aws.cloudwatch, aws.sqs):
            factory()  # clients built before the start line, as in a warm container
        import app  # noqa: F401 - imported before the start line too

        results.put(run_threads(deliveries, plan, start_line=start.wait))
    except BaseException:
        results.put(traceback.format_exc())
        raise


def run_concurrently(deliveries: list[Delivery], plan: Plan, seed: int = 1) -> Report:
    """Shuffle the deliveries and split them over this process and ``plan.processes`` spawned ones.

    Every process's threads start together on one barrier, so deliveries of one event really race.
    """
    shuffled = list(deliveries)
    random.Random(seed).shuffle(shuffled)
    shares = [shuffled[i :: plan.processes + 1] for i in range(plan.processes + 1)]
    if plan.processes == 0:
        return run_threads(shares[0], plan)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(plan.processes + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_process_main, args=(share, plan, start, results), daemon=True) for share in shares[1:]
    ]
    for process in processes:
        process.start()
    report = run_threads(shares[0], plan, start_line=start.wait)
    for _ in processes:
        child = results.get(timeout=300)
        if isinstance(child, str):
            raise RuntimeError(f"a delivering process failed:\n{child}")
        report.merge(child)
    for process in processes:
        process.join(timeout=60)
    return report
