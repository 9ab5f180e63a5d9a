"""The embedded AWS for the reliability suite: moto on 127.0.0.1, one request at a time.

Why not marea_local.embedded_aws as it is: moto's DynamoDB transactions are not isolated. A
cancelled TransactWriteItems restores a deep copy of every table it touched, taken when it began,
so under concurrent requests (moto's server handles each in a thread) a losing transaction undoes
the winner's writes, and two conditional writes can both pass their checks. Real DynamoDB
serialises conflicting transactions. This test double restores that one guarantee by handling
requests one at a time; everything else is moto's. Concurrency still happens where it matters to
Marea: between the handlers' threads and processes, which interleave their requests freely.

It restores one more: moto ignores ECS RunTask's ``clientToken``, so a RunTask whose answer was lost
and that botocore retried starts a second kops runner, which AWS never does ("If you retry a request
that completed successfully using the same client token and the same parameters, the retry succeeds
without performing any further actions"; the same token with other parameters is a
``ConflictException``: *Ensuring idempotency*, ECS API Reference, docs/aws-semantics.md, "kops
instance groups"). ``run_task_tokens_honoured`` answers such a retry with the first answer.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from marea_local.data_stack import DataStack, create_data_stack
from marea_local.embedded_aws import EmbeddedAws, start_embedded_aws

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
STAGE = "rel"
# Powertools: no X-Ray, no EMF lines on stdout, only errors in the logs (figures stay readable).
QUIET_LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "Marea",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_DEV": "0",
}


def serialized(app: WsgiApp) -> WsgiApp:
    """A WSGI app that runs ``app`` for one request at a time, body included."""
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return handle


_RUN_TASK = "AmazonEC2ContainerServiceV20141113.RunTask"


def run_task_tokens_honoured(app: WsgiApp) -> WsgiApp:
    """A WSGI app that answers a RunTask retried with its client token as ECS does (the first answer
    again, or ConflictException for other parameters); moto's reset forgets the tokens."""
    answers: dict[tuple[str, str], tuple[bytes, str, list[tuple[str, str]], bytes]] = {}

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/moto-api/reset":
            answers.clear()
        if environ.get("HTTP_X_AMZ_TARGET") != _RUN_TASK:
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        params = json.loads(body or b"{}")
        if not params.get("clientToken"):
            return app(environ, start_response)
        key = (str(params.get("cluster", "default")), str(params["clientToken"]))
        if key in answers:
            first, status, headers, answer = answers[key]
            if first != body:
                status, headers = "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")]
                answer = json.dumps({"__type": "ConflictException", "message": "clientToken in use"}).encode()
            start_response(status, headers)
            return [answer]
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        answer = b"".join(app(environ, capture))
        if str(seen.get("status", "")).startswith("200"):
            answers[key] = (body, seen["status"], list(seen["headers"]), answer)
        return [answer]

    return handle


def start_serialized_aws() -> EmbeddedAws:
    return start_embedded_aws(wrap=lambda app: serialized(run_task_tokens_honoured(app)))


@contextmanager
def reliability_aws() -> Iterator[EmbeddedAws]:
    """Start the serialized embedded AWS and point this process's environment at it."""
    aws = start_serialized_aws()
    saved = dict(os.environ)
    os.environ.update(aws.environment())
    os.environ.update(QUIET_LAMBDA_ENVIRONMENT)
    try:
        yield aws
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)


def fresh_stack(aws: EmbeddedAws) -> DataStack:
    """Empty the embedded AWS, create Marea's tables and queue, point settings at them, drop cached clients."""
    aws.reset()
    stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage=STAGE)
    os.environ.update(stack.environment())
    forget_wiring()
    return stack


def forget_wiring() -> None:
    from chalicelib import triggers, wiring

    wiring.reset()
    triggers._dispatch_tick_once.cache_clear()
