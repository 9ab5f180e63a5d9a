"""``marea backtest TRACE.csv --kind K --policy P[,P...] --unit-capacity U [--sweep A:B:S] [--out ...] [--chart ...]``.

One policy prints its summary (and writes its per-step CSV and chart when asked); several print
one comparison table; ``--sweep`` replays each at each target utilization and prints the frontier.
``--target TARGET.json`` (with ``--alarms``) replays a Marea target's own policies, alone or beside the
named ones; ``--step 10`` replays in 10 s steps, for policies and alarms on high-resolution metrics.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from chalicelib.backtest.policies.engine import UnsupportedPolicyError, replayed_alarm_names
from chalicelib.backtest.replay import POLICY_NAMES, Result, make_controller
from chalicelib.backtest.trace import MINUTE_S, STEPS_S
from chalicelib.backtest.world import KINDS, World
from chalicelib.models.targets import ScheduledPolicy, Target
from chalicelib.target_backtest import KIND_OF_TARGET
from marea_backtest.comparison import format_comparison
from marea_backtest.frontier import format_frontier, write_frontier_csv
from marea_backtest.options import choose_start, parse_policies, parse_sweep, sweep_targets
from marea_backtest.progress import ProgressBar
from marea_backtest.replays import Replay, run_replays
from marea_backtest.report import format_summary, write_csv
from marea_backtest.target_file import read_alarms, read_target
from marea_backtest.trace import TraceError, TraceFile, read_trace

DEFAULT_MIN_UNITS = 1
DEFAULT_MAX_UNITS = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "backtest":
        _parser().print_help()
        return 2
    try:
        _check_combinations(args)
        loaded = read_trace(args.trace)
        target = read_target(args.target) if args.target is not None else None
        alarms = read_alarms(args.alarms, replayed_alarm_names(target, args.step)) if args.alarms and target else {}
        policies = parse_policies(args.policy) if args.policy is not None else []
        targets = sweep_targets(parse_sweep(args.sweep), args.target_utilization) if args.sweep is not None else None
        if args.jobs < 1:
            raise ValueError("--jobs must be at least 1")
        if args.schedule is not None and "scheduled" not in policies:
            raise ValueError("--schedule applies to the scheduled policy: add scheduled to --policy")
        schedule = _read_schedule(args.schedule) if args.schedule is not None else None
        _check_directories(args)
        start, start_source = choose_start(args.start, loaded.trace.start)
        trace = loaded.trace if args.step == MINUTE_S else loaded.trace.at_step(args.step)
        replays = [
            Replay(policy, _world(args, start, utilization, target))
            for policy in policies
            for utilization in (targets or [args.target_utilization])
        ]
        if target is not None:
            world = _world(args, start, args.target_utilization, target)
            make_controller(target, world, trace, alarms)  # refused now, not after the other replays ran
            replays.insert(0, Replay(target, world, label=f"target:{target.id}", alarms=alarms))
        unit = ("min" if args.step == MINUTE_S else "steps") if len(replays) == 1 else "replays"
        progress = ProgressBar(f"{trace.name} {', '.join(r.label or str(r.policy) for r in replays)}", unit=unit)
        results = run_replays(trace, replays, schedule, args.jobs, progress)
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


def _world(args: argparse.Namespace, start: datetime, target_utilization: float, target: Target | None) -> World:
    """The world of the replays: a --target's kind and bounds unless the options say otherwise."""
    kind = args.kind if args.kind is not None or target is None else KIND_OF_TARGET[target.kind]
    low = target.min if target is not None else DEFAULT_MIN_UNITS
    high = target.max if target is not None else DEFAULT_MAX_UNITS
    return World(
        kind=kind,
        unit_capacity=args.unit_capacity,
        target_utilization=target_utilization,
        min_units=args.min if args.min is not None else low,
        max_units=args.max if args.max is not None else high,
        start=start,
    )


def _check_combinations(args: argparse.Namespace) -> None:
    """What only a --target supplies, and what a --target cannot take (said before any file is read)."""
    if args.target is None:
        if args.policy is None:
            raise ValueError("give --policy (a comma list of presets), --target TARGET.json, or both")
        if args.kind is None:
            raise ValueError(f"--kind is needed without --target: one of {', '.join(KINDS)}")
        if args.alarms is not None:
            raise ValueError("--alarms defines a --target's alarms: give the target too")
    elif args.sweep is not None:
        raise ValueError("--sweep varies the presets' target utilization; a --target's policies keep their own")


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
    """``OUT.csv`` -> ``OUT.<policy>.csv``: one per-minute CSV per policy of a comparison (``target:web``
    -> ``target-web``: a colon is no file name everywhere)."""
    return out.with_name(f"{out.stem}.{re.sub(r'[^A-Za-z0-9._-]', '-', policy)}{out.suffix}")


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
        " minute (or in --step seconds) under one or more scaling policies, or a Marea target's own, and print what"
        " each would have cost and how often it would have been short of capacity.",
    )
    backtest.add_argument("trace", type=Path, metavar="TRACE.csv")
    backtest.add_argument(
        "--kind", choices=KINDS, help="provisioning delay 4 / 2 / 6 minutes (default: a --target's own kind)"
    )
    backtest.add_argument(
        "--policy",
        metavar="P[,P...]",
        help=f"one or a comma list of {', '.join(POLICY_NAMES)}; ratios are to aws-target-tracking when listed",
    )
    backtest.add_argument(
        "--target",
        type=Path,
        metavar="TARGET.json",
        help="replay a Marea target's own policies (as GET /targets/{id} returns it, or a PUT body named after its"
        " id), alone or beside --policy; its min and max bound the units unless --min / --max say otherwise",
    )
    backtest.add_argument(
        "--alarms",
        type=Path,
        metavar="ALARMS.json",
        help="the --target's alarms as aws cloudwatch describe-alarms prints them: its step policies' alarms, and"
        " in a --step finer than 60 its target-tracking policies' trigger alarms",
    )
    backtest.add_argument(
        "--step",
        type=int,
        choices=STEPS_S,
        default=MINUTE_S,
        help="seconds per replay step (default 60); a finer step spreads each minute of the trace evenly, for"
        " policies and alarms on high-resolution (10, 20, 30 s) metrics",
    )
    backtest.add_argument("--unit-capacity", required=True, type=float, metavar="U", help="requests/min per unit")
    backtest.add_argument("--target-utilization", type=float, default=70.0, metavar="PERCENT")
    backtest.add_argument("--min", type=int, help=f"fewest units (default {DEFAULT_MIN_UNITS}, or a --target's min)")
    backtest.add_argument("--max", type=int, help=f"most units (default {DEFAULT_MAX_UNITS}, or a --target's max)")
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
