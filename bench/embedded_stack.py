"""The embedded AWS with Marea's data stack, for benchmarks that run Marea's handlers in their own process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from marea_local.data_stack import DataStack, create_data_stack
from marea_local.embedded_aws import start_embedded_aws

# No tracing, no metrics, errors only: a log line or an EMF document per decision would bury the figures.
QUIET_POWERTOOLS = {
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


@contextmanager
def embedded_stack(stage: str = "bench") -> Iterator[DataStack]:
    """Starts the embedded AWS, points this process's environment at it and at the stage's data stack, and
    stops it on the way out."""
    server = start_embedded_aws()
    os.environ.update(server.environment())
    os.environ.update(QUIET_POWERTOOLS)
    try:
        stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage=stage)
        os.environ.update(stack.environment())
        yield stack
    finally:
        server.stop()
