"""The reliability scenarios at full size against the embedded AWS; prints RELIABILITY.md's table.

Scenarios (tests/reliability/scenarios.py; `make test` runs them short):
- at-least-once delivery: an alarm event, a schedule tick and a kops task-state event, each delivered
  1-5 times, shuffled over threads of this process and of spawned processes that start together;
- racing evaluations: 20 alarm events for one target at one instant, released at once;
- AWS faults at 10 % and 50 % of HTTP attempts (throttling, RequestLimitExceeded, 5xx, read
  timeouts, connection resets, answers lost after AWS acted), alarm events and ticks concurrently;
- kops runners under the same faults (RunTask and StopTask at 50 %), the real runner run for each
  task, its task-state events duplicated, late or lost, runners hung past their lease, the target
  paused, in advise and its max lowered while a decision waits.

Exits 1 if any invariant broke (double actuation, lost, duplicated or pending decision, capacity out
of bounds, more than 4 attempts per call, a runner started on a paused or advise target or while
another ran). Bounded: every run has a fixed number of events.

Usage: .venv/bin/python bench/reliability.py [--repeat 5] [--rounds 20] [--kops-rounds 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.audit import TABLE_HEADER, Figures, combined, table_row  # noqa: E402
from tests.reliability.delivery import Plan  # noqa: E402
from tests.reliability.embedded import reliability_aws  # noqa: E402
from tests.reliability.scenarios import Outcome, at_least_once, aws_faults, kops_faults, racing  # noqa: E402


def report(outcomes: list[Outcome], name: str) -> tuple[Figures, list[str]]:
    for outcome in outcomes:
        print(f"  {outcome.figures.summary()}", flush=True)
    problems = [p for outcome in outcomes for p in outcome.problems]
    return combined(name, [o.figures for o in outcomes]), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the delivery and racing scenarios")
    parser.add_argument("--rounds", type=int, default=20, help="minutes of load in each fault scenario")
    parser.add_argument("--kops-rounds", type=int, default=40, help="simulated minutes in each kops fault scenario")
    args = parser.parse_args()
    started = time.perf_counter()
    rows: list[Figures] = []
    problems: list[str] = []
    with reliability_aws() as aws:
        print("at-least-once delivery (3 threads in each of 3 processes):", flush=True)
        runs = [at_least_once(aws, Plan(threads=3, processes=2), seed=seed) for seed in range(1, args.repeat + 1)]
        row, found = report(runs, "at-least-once delivery")
        rows.append(row)
        problems += found
        print("racing evaluations (20 per run, 5 threads in each of 4 processes):", flush=True)
        runs = [racing(aws, Plan(threads=5, processes=3), seed=seed) for seed in range(1, args.repeat + 1)]
        row, found = report(runs, "20 racing evaluations of one target")
        rows.append(row)
        problems += found
        for rate in (0.1, 0.5):
            print(f"AWS faults at {rate:.0%} ({args.rounds} rounds, 2 threads in each of 2 processes):", flush=True)
            row, found = report([aws_faults(aws, rate=rate, rounds=args.rounds, processes=1)], f"AWS faults {rate:.0%}")
            rows.append(row)
            problems += found
        for rate in (0.1, 0.5):
            print(f"kops runners, AWS faults at {rate:.0%}, RunTask/StopTask at 50 % ({args.kops_rounds} rounds):")
            outcome = kops_faults(aws, rate=rate, rounds=args.kops_rounds, runner_rate=0.5)
            row, found = report([outcome], f"kops runners, AWS faults {rate:.0%}")
            rows.append(row)
            problems += found
    print()
    print(TABLE_HEADER)
    for row in rows:
        print(table_row(row))
    print(f"\n{time.perf_counter() - started:.0f} s in all; invariants broken: {len(problems)}")
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
