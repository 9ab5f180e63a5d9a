"""Small synthetic traces for backtest tests: deterministic, a few days long at most."""

from __future__ import annotations

import math
import random
from typing import Any

from chalicelib.alarm_evaluation import AlarmDefinition, ComparisonOperator
from chalicelib.backtest.trace import Trace, trace_from_rates

DAY_MIN = 1440


def daily_trace(days: float = 2.5, seed: int = 7, base: float = 60.0) -> Trace:
    """A daily cycle (low at night, high by day) with noise and one flash crowd on day 2."""
    rng = random.Random(seed)
    demand = []
    for minute in range(int(days * DAY_MIN)):
        hour = (minute % DAY_MIN) / 60
        level = base * (1 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24))
        if DAY_MIN + 600 <= minute < DAY_MIN + 660:
            level *= 4
        demand.append(max(0.0, rng.gauss(level, math.sqrt(level))))
    return trace_from_rates("daily", demand)


def step_trace(low: float, high: float, step_at: int, minutes: int) -> Trace:
    return trace_from_rates("step", [low if m < step_at else high for m in range(minutes)])


def alarm(name: str = "cpu-high", **overrides: Any) -> AlarmDefinition:
    """A CloudWatch alarm as DescribeAlarms defines it: the ASG's CPU above 80 % for 2 of 2 minutes."""
    fields: dict[str, Any] = {
        "name": name,
        "arn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        "namespace": "AWS/EC2",
        "metric_name": "CPUUtilization",
        "dimensions": {"AutoScalingGroupName": "web"},
        "statistic": "Average",
        "period_s": 60,
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
        "threshold": 80.0,
        "comparison_operator": ComparisonOperator.GREATER_THAN,
        **overrides,
    }
    return AlarmDefinition(**fields)
