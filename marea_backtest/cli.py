"""``marea backtest TRACE.csv --kind ... --policy ... --unit-capacity U --out OUT.csv [--chart OUT.png]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from chalicelib.backtest.policies.engine import UnsupportedPolicyError
from chalicelib.backtest.policies.presets import scheduled_target
from chalicelib.backtest.replay import POLICY_NAMES, PolicySpec, run_backtest
from chalicelib.backtest.world import DEFAULT_START, KINDS, World
from chalicelib.models.targets import ScheduledPolicy
from marea_backtest.progress import ProgressBar
from marea_backtest.report import format_summary, write_csv
from marea_backtest.trace import TraceError, load_trace


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "backtest":
        _parser().print_help()
        return 2
    try:
        trace = load_trace(args.trace)
        world = World(
            kind=args.kind,
            unit_capacity=args.unit_capacity,
            target_utilization=args.target_utilization,
            min_units=args.min,
            max_units=args.max,
            start=args.start,
        )
        policy: PolicySpec = args.policy
        if args.schedule is not None:
            policy = scheduled_target(world, _read_schedule(args.schedule))
        result = run_backtest(
            trace, policy, world, progress=ProgressBar(f"{trace.name} {args.policy}"), label=args.policy
        )
    except (OSError, TraceError, ValueError, UnsupportedPolicyError) as exc:
        print(f"marea backtest: {exc}", file=sys.stderr)
        return 2
    write_csv(result, args.out)
    print(format_summary(result))
    print(f"  per-minute trajectory      {args.out}")
    if args.chart is not None:
        from marea_backtest.chart import draw_chart  # matplotlib is imported only when a chart is asked for

        draw_chart(result, args.chart)
        print(f"  chart                      {args.chart}")
    return 0


def _read_schedule(path: Path) -> ScheduledPolicy:
    try:
        return ScheduledPolicy.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"{path}: not a scheduled policy: {exc}") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marea", description="Marea autoscaling advisor: offline tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    backtest = commands.add_parser(
        "backtest",
        help="replay a request trace under a scaling policy",
        description="Replay TRACE.csv (header minute,requests) minute by minute under a scaling policy "
        "and print what it would have cost and how often it would have been short of capacity.",
    )
    backtest.add_argument("trace", type=Path, metavar="TRACE.csv")
    backtest.add_argument("--kind", required=True, choices=KINDS, help="provisioning delay 4 / 2 / 6 minutes")
    backtest.add_argument("--policy", required=True, choices=POLICY_NAMES)
    backtest.add_argument("--unit-capacity", required=True, type=float, metavar="U", help="requests/min per unit")
    backtest.add_argument("--target-utilization", type=float, default=70.0, metavar="PERCENT")
    backtest.add_argument("--min", type=int, default=1, help="fewest units (default 1)")
    backtest.add_argument("--max", type=int, default=10_000, help="most units (default 10000)")
    backtest.add_argument("--out", required=True, type=Path, metavar="OUT.csv", help="per-minute trajectory")
    backtest.add_argument("--chart", type=Path, metavar="OUT.png", help="draw demand and capacity")
    backtest.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=DEFAULT_START,
        metavar="ISO-TIME",
        help="wall-clock time of minute 0 with its zone, e.g. 1995-07-01T00:00-04:00 (default 2024-01-01T00:00Z,"
        " a Monday)",
    )
    backtest.add_argument(
        "--schedule",
        type=Path,
        metavar="POLICY.json",
        help="for --policy scheduled: a scheduled policy as the HTTP API takes it (default: hourly capacities"
        " written from the first 7 days of the trace)",
    )
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
