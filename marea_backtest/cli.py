"""``marea backtest TRACE.csv --kind K --policy P[,P...] --unit-capacity U [--sweep A:B:S] [--out ...] [--chart ...]``.

One policy prints its summary (and writes its per-minute CSV and chart when asked); several print
one comparison table; ``--sweep`` replays each at each target utilization and prints the frontier.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from chalicelib.backtest.policies.engine import UnsupportedPolicyError
from chalicelib.backtest.replay import POLICY_NAMES, Result
from chalicelib.backtest.world import KINDS, World
from chalicelib.models.targets import ScheduledPolicy
from marea_backtest.comparison import format_comparison
from marea_backtest.frontier import format_frontier, write_frontier_csv
from marea_backtest.options import choose_start, parse_policies, parse_sweep, sweep_targets
from marea_backtest.progress import ProgressBar
from marea_backtest.replays import Replay, run_replays
from marea_backtest.report import format_summary, write_csv
from marea_backtest.trace import TraceError, TraceFile, read_trace


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "backtest":
        _parser().print_help()
        return 2
    try:
        loaded = read_trace(args.trace)
        policies = parse_policies(args.policy)
        targets = sweep_targets(parse_sweep(args.sweep), args.target_utilization) if args.sweep is not None else None
        if args.jobs < 1:
            raise ValueError("--jobs must be at least 1")
        if args.schedule is not None and "scheduled" not in policies:
            raise ValueError("--schedule applies to the scheduled policy: add scheduled to --policy")
        schedule = _read_schedule(args.schedule) if args.schedule is not None else None
        _check_directories(args)
        start, start_source = choose_start(args.start, loaded.trace.start)
        replays = [
            Replay(policy, _world(args, start, target))
            for policy in policies
            for target in (targets or [args.target_utilization])
        ]
        unit = "min" if len(replays) == 1 else "replays"
        progress = ProgressBar(f"{loaded.trace.name} {args.policy}", unit=unit)
        results = run_replays(loaded.trace, replays, schedule, args.jobs, progress)
    except (OSError, TraceError, ValueError, UnsupportedPolicyError) as exc:
        print(f"marea backtest: {exc}", file=sys.stderr)
        return 2
    _say_start(loaded, start, start_source)
    if targets is not None:
        _frontier(results, args)
    elif len(results) == 1:
        _single(results[0], args)
    else:
        _comparison(results, args)
    return 0


def _world(args: argparse.Namespace, start: datetime, target_utilization: float) -> World:
    return World(
        kind=args.kind,
        unit_capacity=args.unit_capacity,
        target_utilization=target_utilization,
        min_units=args.min,
        max_units=args.max,
        start=start,
    )


def _say_start(loaded: TraceFile, start: datetime, source: str) -> None:
    if loaded.naive_read_as_utc and source != "--start":
        print(
            f"marea backtest: note: {loaded.trace.name}'s timestamps have no zone offset: read as UTC", file=sys.stderr
        )
    print(f"minute 0 at {start.isoformat()} ({source})")


def _single(result: Result, args: argparse.Namespace) -> None:
    print(format_summary(result))
    if args.out is not None:
        write_csv(result, args.out)
        print(f"  per-minute trajectory      {args.out}")
    if args.chart is not None:
        from marea_backtest.chart import draw_chart  # matplotlib is imported only when a chart is asked for

        draw_chart(result, args.chart)
        print(f"  chart                      {args.chart}")


def _comparison(results: list[Result], args: argparse.Namespace) -> None:
    print(format_comparison(results))
    if args.out is not None:
        for result in results:
            path = _per_policy(args.out, result.policy)
            write_csv(result, path)
            print(f"  per-minute trajectory of {result.policy:<20} {path}")
    if args.chart is not None:
        from marea_backtest.chart import draw_comparison

        world = results[0].world
        title = (
            f"{results[0].trace} from {world.start:%Y-%m-%d %H:%M %z}: {', '.join(r.policy for r in results)}"
            f" on {world.kind} (delay {world.delay_min} min, {world.unit_capacity:g} req/min per unit)"
        )
        draw_comparison(results, args.chart, title)
        print(f"  chart                      {args.chart}")


def _frontier(results: list[Result], args: argparse.Namespace) -> None:
    print(format_frontier(results, args.target_utilization))
    if args.out is not None:
        write_frontier_csv(results, args.target_utilization, args.out)
        print(f"  frontier table             {args.out}")
    if args.chart is not None:
        from marea_backtest.frontier_chart import draw_frontier

        world = results[0].world
        title = (
            f"{results[0].trace}: cost-risk frontier on {world.kind} (delay {world.delay_min} min,"
            f" {world.unit_capacity:g} req/min per unit), target utilization swept"
        )
        draw_frontier(results, args.target_utilization, args.chart, title)
        print(f"  frontier chart             {args.chart}")


def _check_directories(args: argparse.Namespace) -> None:
    """Outputs are written after the replays: a missing directory is said before minutes of CPU are spent."""
    for option, path in (("--out", args.out), ("--chart", args.chart)):
        if path is not None and not path.parent.is_dir():
            raise ValueError(f"{option}: no directory {path.parent}")


def _per_policy(out: Path, policy: str) -> Path:
    """``OUT.csv`` -> ``OUT.<policy>.csv``: one per-minute CSV per policy of a comparison."""
    return out.with_name(f"{out.stem}.{policy}{out.suffix}")


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
        help="replay a request trace under scaling policies",
        description="Replay TRACE.csv (header minute,requests, timestamp,requests or timestamp,value) minute by"
        " minute under one or more scaling policies and print what each would have cost and how often it would"
        " have been short of capacity.",
    )
    backtest.add_argument("trace", type=Path, metavar="TRACE.csv")
    backtest.add_argument("--kind", required=True, choices=KINDS, help="provisioning delay 4 / 2 / 6 minutes")
    backtest.add_argument(
        "--policy",
        required=True,
        metavar="P[,P...]",
        help=f"one or a comma list of {', '.join(POLICY_NAMES)}; ratios are to aws-target-tracking when listed",
    )
    backtest.add_argument("--unit-capacity", required=True, type=float, metavar="U", help="requests/min per unit")
    backtest.add_argument("--target-utilization", type=float, default=70.0, metavar="PERCENT")
    backtest.add_argument("--min", type=int, default=1, help="fewest units (default 1)")
    backtest.add_argument("--max", type=int, default=10_000, help="most units (default 10000)")
    backtest.add_argument(
        "--sweep",
        metavar="START:STOP:STEP",
        help="replay each policy at each target utilization START..STOP (percent, STOP included) and print the"
        " frontier; the --target-utilization is replayed too and marked",
    )
    backtest.add_argument("--jobs", type=int, default=1, metavar="N", help="replays run at once (processes)")
    backtest.add_argument(
        "--out",
        type=Path,
        metavar="OUT.csv",
        help="per-minute trajectory; with several policies OUT.<policy>.csv each; with --sweep the frontier table",
    )
    backtest.add_argument(
        "--chart",
        type=Path,
        metavar="OUT.png",
        help="demand and capacity (a panel per policy when several); with --sweep the frontier",
    )
    backtest.add_argument(
        "--start",
        type=datetime.fromisoformat,
        metavar="ISO-TIME",
        help="wall-clock time of minute 0 with its zone, e.g. 1995-07-01T00:00-04:00 (default: the trace's first"
        " timestamp, else 2024-01-01T00:00Z, a Monday)",
    )
    backtest.add_argument(
        "--schedule",
        type=Path,
        metavar="POLICY.json",
        help="for the scheduled policy: a scheduled policy as the HTTP API takes it (default: hourly capacities"
        " written from the first 7 days of the trace)",
    )
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
