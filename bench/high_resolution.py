"""What high-resolution metrics change on a real trace: target tracking at 1 minute and at 10 s, side by side.

The whole NASA July 1995 trace (bench/data, 27.6 days) replayed in the backtest's world in 10 s steps, each
minute's requests spread evenly over its six steps (what ``marea backtest --step 10`` does: the trace holds
nothing finer), EC2 units (4 minutes to boot), U = mean demand / 6 (the mean needs 10 units at 60 %), on:

- AWS target tracking, modelled on its documented 1-minute alarms (3 of 3 above, 15 of 15 below 0.9 x target);
- Marea's target tracking with its defaults on a 1-minute metric (evaluated on the minute's ticks);
- the same on a 10 s metric with the trigger alarm a stack gives it (3 of 3 10 s periods above the target),
  with its default windows (scale-out 3 datapoints, 30 s; scale-in 15 minutes, 90 datapoints) and with a
  scale-in window of 15 datapoints (150 s: the default before 2026-12-04, when windows counted datapoints).

Prints one line per policy: capacity changes per hour, under-provisioned minutes, unit-hours and their ratio
to the 1-minute policy's. About 40 s on 2 cores (the 10 s target-tracking replays take ~17 s each).

Usage: .venv/bin/python bench/high_resolution.py [--hours N]  (N: the busiest N hours only)
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.alarm_evaluation import AlarmDefinition, ComparisonOperator  # noqa: E402
from chalicelib.backtest import PolicySpec, Result, Trace, World, run_backtest  # noqa: E402
from chalicelib.models.targets import AsgTarget, CustomMetric, TargetTrackingPolicy  # noqa: E402
from marea_backtest.trace import load_trace  # noqa: E402

NASA = ROOT / "bench" / "data" / "nasa_jul95.csv"
STEP_S = 10
TARGET_VALUE = 60.0
UNITS_AT_MEAN = 6  # U = mean / 6: the mean needs 10 units at 60 %
TRIGGER = "web-cpu-above-target"


def tracking(period_s: int, scale_in_datapoints: int | None = None) -> AsgTarget:
    trigger = {"trigger_alarm": TRIGGER} if period_s < 60 else {}
    policy = TargetTrackingPolicy(
        name="cpu",
        metric=CustomMetric(namespace="Bench", metric_name="CPUUtilization", period_s=period_s),
        target_value=TARGET_VALUE,
        scale_in_datapoints=scale_in_datapoints,
        **trigger,
    )
    return AsgTarget(id="web", asg_name="web", min=1, max=10_000, mode="act", policies=[policy])


TRIGGER_ALARM = AlarmDefinition(
    name=TRIGGER,
    arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{TRIGGER}",
    namespace="Bench",
    metric_name="CPUUtilization",
    dimensions={},
    statistic="Average",
    period_s=STEP_S,
    evaluation_periods=3,
    datapoints_to_alarm=3,
    threshold=TARGET_VALUE,
    comparison_operator=ComparisonOperator.GREATER_THAN,
)
POLICIES: list[tuple[str, PolicySpec]] = [
    ("aws-target-tracking (1-minute alarms)", "aws-target-tracking"),
    ("target tracking, 1-minute metric", tracking(60)),
    ("target tracking, 10 s + trigger, default (scale-in 15 min)", tracking(10)),
    ("target tracking, 10 s + trigger, scale-in 15 dp (150 s)", tracking(10, scale_in_datapoints=15)),
]


def busiest(trace: Trace, hours: int) -> Trace:
    span = hours * 60
    first = max(range(len(trace) - span + 1), key=lambda start: sum(trace.demand[start : start + span]))
    return Trace(name=f"{trace.name}, busiest {hours} h", demand=trace.demand[first : first + span])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=0, help="replay the busiest N hours only (default: all)")
    args = parser.parse_args()
    minutes = load_trace(NASA)
    if args.hours:
        minutes = busiest(minutes, args.hours)
    world = World(
        kind="ec2",
        unit_capacity=minutes.mean / UNITS_AT_MEAN,
        target_utilization=TARGET_VALUE,
        max_units=10_000,
        start=datetime(1995, 7, 1, tzinfo=UTC),
    )
    trace = minutes.at_step(STEP_S)
    print(
        f"{minutes.name} ({len(minutes):,} minutes) in {STEP_S} s steps, each minute spread evenly; ec2 (4 min boot),"
        f" {world.unit_capacity:.1f} req/min per unit, target {TARGET_VALUE:g} %"
    )
    print(f"  {'policy':<58} {'changes/h':>9} {'short min':>9} {'unit-hours':>11} {'x 1-minute':>10} {'CPU s':>6}")
    results: dict[str, Result] = {}
    for label, policy in POLICIES:
        results[label] = run_backtest(trace, policy, world, label=label, alarms={TRIGGER: TRIGGER_ALARM})
    reference = results[POLICIES[1][0]].summary
    for label, result in results.items():
        s = result.summary
        print(
            f"  {label:<58} {s.scaling_actions / (s.minutes / 60):>9.2f} {s.under_provisioned_minutes:>9,.1f}"
            f" {s.unit_hours:>11,.1f} {s.unit_hours / reference.unit_hours:>10.3f} {result.cpu_seconds:>6.1f}"
        )


if __name__ == "__main__":
    main()
