"""Resolve a policy's metric to the concrete CloudWatch metric it reads (pure)."""

from __future__ import annotations

from chalicelib.models.targets import (
    AsgTarget,
    CustomMetric,
    EcsTarget,
    PredefinedMetric,
    PredefinedMetricType,
    Statistic,
    TargetBase,
)

_ECS_METRIC = {
    PredefinedMetricType.ECS_SERVICE_AVERAGE_CPU: "CPUUtilization",
    PredefinedMetricType.ECS_SERVICE_AVERAGE_MEMORY: "MemoryUtilization",
}


def resolve_metric(target: TargetBase, metric: CustomMetric | PredefinedMetric) -> CustomMetric:
    """The CloudWatch metric behind a predefined one, as AWS target tracking defines it.

    Raises ValueError when the predefined metric does not fit the target's kind.
    """
    if isinstance(metric, CustomMetric):
        return metric
    kind = metric.predefined
    if kind is PredefinedMetricType.ASG_AVERAGE_CPU:
        if not isinstance(target, AsgTarget):
            raise ValueError(f"{kind.value} needs an asg target")
        return CustomMetric(
            namespace="AWS/EC2", metric_name="CPUUtilization", dimensions={"AutoScalingGroupName": target.asg_name}
        )
    if kind is PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET:
        label = metric.resource_label or ""
        _, sep, target_group = label.partition("/targetgroup/")
        if not sep or not target_group:
            raise ValueError("resource_label must look like app/<lb>/<id>/targetgroup/<tg>/<id>")
        return CustomMetric(
            namespace="AWS/ApplicationELB",
            metric_name="RequestCountPerTarget",
            dimensions={"TargetGroup": f"targetgroup/{target_group}"},
            statistic=Statistic.SUM,
        )
    if not isinstance(target, EcsTarget):
        raise ValueError(f"{kind.value} needs an ecs target")
    return CustomMetric(
        namespace="AWS/ECS",
        metric_name=_ECS_METRIC[kind],
        dimensions={"ClusterName": target.cluster, "ServiceName": target.service},
    )
