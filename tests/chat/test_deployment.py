"""The chat's deployment artefacts agree with the chat: infra/chat-fargate.yaml and chat/Dockerfile.

cfn-lint checks the template against the CloudFormation specification offline; the rest checks what a
linter cannot know: the metric's dimensions line up between the task's environment and the alarm, the
stop timeout outlasts the drain, the load balancer is sticky and health-checks /healthz, and the Marea
target the stack outputs is one Marea's own API model accepts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.models.targets import EcsTarget, TargetTrackingPolicy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "chat-fargate.yaml"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags as {"Tag": value} (read, never resolved)."""


CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        suffix: loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
    },
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader))  # noqa: S506  (SafeLoader subclass)


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_cfn_lint_accepts_the_template() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint, "cfn-lint is a dev dependency (requirements-dev.txt)"
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alarm_watches_the_metric_the_tasks_emit(template: dict[str, Any]) -> None:
    (task,) = resources_of(template, "AWS::ECS::TaskDefinition")
    (container,) = task["ContainerDefinitions"]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 2  # the step policy's, and the target-tracking policy's trigger
    for alarm in alarms:
        dimensions = {item["Name"]: item["Value"] for item in alarm["Dimensions"]}
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "Marea/Chat",
            "ConnectedClients",
            "Average",
        )
        assert dimensions == {"ClusterName": env["CHAT_CLUSTER_NAME"], "ServiceName": env["CHAT_SERVICE_NAME"]}
        assert alarm["TreatMissingData"] == "missing"  # silence never looks like "few connections"
        assert alarm["Period"] == env["CHAT_METRICS_INTERVAL_S"] == {"Ref": "MetricPeriodSeconds"}
    assert env["CHAT_REDIS_URL"]["Sub"].startswith("rediss://")  # the replication group encrypts in transit
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"  # how the EMF lines become the metric


def test_a_stopping_task_gets_longer_than_its_drain(template: dict[str, Any]) -> None:
    table = template["Mappings"]["DrainToStopTimeout"]
    allowed = template["Parameters"]["DrainTimeoutSeconds"]["AllowedValues"]
    assert sorted(int(key) for key in table) == sorted(allowed)
    for drain, row in table.items():
        assert int(drain) < row["StopTimeout"] <= 120  # Fargate's maximum stopTimeout


def test_the_load_balancer_is_sticky_and_checks_healthz(template: dict[str, Any]) -> None:
    (group,) = resources_of(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    attributes = {item["Key"]: item["Value"] for item in group["TargetGroupAttributes"]}
    assert attributes["stickiness.enabled"] == "true"
    assert attributes["stickiness.type"] == "lb_cookie"
    assert group["HealthCheckPath"] == "/healthz"
    (service,) = resources_of(template, "AWS::ECS::Service")
    assert "DesiredCount" not in service  # Marea owns the count; stack updates must not reset it
    # what the stage's IAM policy allows to scale: dev's Marea cannot scale prod's chat
    assert {"Key": "marea:managed", "Value": {"Ref": "Stage"}} in service["Tags"]


@pytest.mark.parametrize("period_s", [10, 60])
def test_the_stack_outputs_a_target_marea_accepts(template: dict[str, Any], period_s: int) -> None:
    """At either metric period: the policy reads the metric at the period the tasks emit it and the alarm
    evaluates it, and its windows last as long (2 periods out, 15 minutes in)."""
    assert template["Parameters"]["MetricPeriodSeconds"]["AllowedValues"] == [10, 60]
    body, variables = template["Outputs"]["MareaTargetBody"]["Value"]["Sub"]
    row = template["Mappings"]["MetricPeriod"][str(period_s)]
    assert variables == {
        "ScaleOut": {"FindInMap": ["MetricPeriod", {"Ref": "MetricPeriodSeconds"}, "ScaleOutDatapoints"]},
        "ScaleIn": {"FindInMap": ["MetricPeriod", {"Ref": "MetricPeriodSeconds"}, "ScaleInDatapoints"]},
    }
    values = {"MetricPeriodSeconds": str(period_s), "ScaleOut": str(row["ScaleOutDatapoints"])}
    values.update(ScaleIn=str(row["ScaleInDatapoints"]), ConnectionsTarget="400")
    values.update(ConnectionsAboveTargetAlarm="marea-prod-chat-above", ConnectionsHighAlarm="marea-prod-chat-high")
    resolved = re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), "marea-prod-chat"), body)

    target = EcsTarget.model_validate({**json.loads(resolved), "id": "chat"})

    assert target.alarm_names == ["marea-prod-chat-above", "marea-prod-chat-high"]
    tracking = target.policies[0]
    assert isinstance(tracking, TargetTrackingPolicy)
    assert tracking.metric.model_dump()["metric_name"] == "ConnectedClients"
    assert tracking.metric.period_s == period_s
    assert tracking.scale_in_datapoints * period_s == 15 * 60
    assert tracking.trigger_alarm == "marea-prod-chat-above"
    trigger = template["Resources"]["ConnectionsAboveTargetAlarm"]["Properties"]
    window = {"FindInMap": ["MetricPeriod", {"Ref": "MetricPeriodSeconds"}, "ScaleOutDatapoints"]}
    # AWS's own target-tracking alarm: above the target for the policy's scale-out window.
    assert (trigger["Threshold"], trigger["EvaluationPeriods"], trigger["DatapointsToAlarm"]) == (
        {"Ref": "ConnectionsTarget"},
        window,
        window,
    )


def test_the_image_is_slim_unprivileged_health_checked_and_builds_the_client_with_npm() -> None:
    dockerfile = (ROOT / "chat" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.MULTILINE)
    assert "RUN npm ci" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    # No process in the image writes bytecode (PYTHONDONTWRITEBYTECODE, an unprivileged user): built in.
    assert "RUN python -m compileall -q --invalidation-mode checked-hash /app/chat" in dockerfile
    ignored = (ROOT / "chat" / ".dockerignore").read_text(encoding="utf-8").split()
    assert "node_modules" in ignored  # the image installs its own, from the lock file


def test_the_image_is_built_from_base_images_pinned_by_digest() -> None:
    """Both stages: a tag alone can be moved to other bytes; the digest cannot (the tag stays, for readers)."""
    dockerfile = (ROOT / "chat" / "Dockerfile").read_text(encoding="utf-8")
    images = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert len(images) == 2
    for image in images:
        assert re.fullmatch(r"(node|python):[\w.-]+@sha256:[0-9a-f]{64}", image), image
    assert "COPY requirements.lock.txt /app/chat/requirements.lock.txt" in dockerfile
