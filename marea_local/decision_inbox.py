"""A user's rule for Marea's decision events, on the embedded AWS: default bus -> SQS queue.

What a platform team sets up to be told (docs/decision-events.md has the rule); the demo counts what
arrives and the tests read it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from chalicelib.decision_events import DETAIL_TYPE, SOURCE

PATTERN = {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}


class DecisionInbox:
    """An SQS queue that a rule on the default bus feeds with Marea's decision events."""

    def __init__(self, events: Any, sqs: Any, name: str = "marea-decision-events") -> None:
        self.sqs = sqs
        self.url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=f"{name}-rule", EventPattern=json.dumps(PATTERN), State="ENABLED")
        events.put_targets(Rule=f"{name}-rule", Targets=[{"Id": "queue", "Arn": arn}])
        self.received: Counter[str] = Counter()  # outcome -> events drained so far

    def drain(self) -> list[dict[str, Any]]:
        """Every event waiting in the queue (deleted once read), oldest first as SQS hands them out."""
        received: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        self.received.update(str(event["detail"]["outcome"]) for event in received)
        return received
