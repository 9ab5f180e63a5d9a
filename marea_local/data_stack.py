"""Create Marea's tables and queues in the embedded AWS from infra/marea-data.yaml.

moto's CloudFormation ignores TimeToLiveSpecification, so instead of deploying the stack this
reads the template and makes the same calls CloudFormation would; the template stays the single
source of the schema (a test fails when code and template drift apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "marea-data.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Sub, !Ref, ...) as {tag: value}."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {tag_suffix: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def _resolve_name(value: Any, stage: str) -> str:
    if isinstance(value, dict) and "Sub" in value:
        return str(value["Sub"]).replace("${Stage}", stage)
    return str(value)


@dataclass(frozen=True)
class DataStack:
    targets_table: str
    decisions_table: str
    idempotency_table: str
    evaluation_queue_url: str

    def environment(self) -> dict[str, str]:
        """The MAREA_* variables that point chalicelib.settings at these resources."""
        return {
            "MAREA_TARGETS_TABLE": self.targets_table,
            "MAREA_DECISIONS_TABLE": self.decisions_table,
            "MAREA_IDEMPOTENCY_TABLE": self.idempotency_table,
            "MAREA_FANOUT_QUEUE_URL": self.evaluation_queue_url,
        }


def create_data_stack(dynamodb: Any, sqs: Any, stage: str = "local") -> DataStack:
    """Create every table and queue the template declares; returns their names."""
    resources: dict[str, Any] = load_template()["Resources"]
    names: dict[str, str] = {}
    for logical_id, resource in resources.items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            names[logical_id] = _create_table(dynamodb, props, stage)
        elif resource["Type"] == "AWS::SQS::Queue":
            name = _resolve_name(props["QueueName"], stage)
            names[logical_id] = sqs.create_queue(QueueName=name)["QueueUrl"]
    return DataStack(
        targets_table=names["TargetsTable"],
        decisions_table=names["DecisionsTable"],
        idempotency_table=names["IdempotencyTable"],
        evaluation_queue_url=names["EvaluationQueue"],
    )


def _create_table(dynamodb: Any, props: dict[str, Any], stage: str) -> str:
    name = _resolve_name(props["TableName"], stage)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name
