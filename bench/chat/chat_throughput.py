"""Benchmark: Marea's chat (python-socketio + Redis) against the Node.js socket.io + Redis reference.

    .venv/bin/python bench/chat/chat_throughput.py [--clients 500] [--room-size 10] [--rates 100,200,...] [--runs 3]

Both targets run as two instances on 127.0.0.1 sharing one redis-server; N clients join rooms of
`room-size` members spread over both instances. The load steps through offered message rates (random
senders); per step it prints delivered messages per second (deliveries to recipients) and the latency until
every member of the room had a message (p50/p99). A step "holds" when at least 99.9 % of deliveries arrived
and p99 stayed under --p99-budget-ms. Each run compares the highest held step of each target and the
latencies at the highest step both held; with several runs (the targets take turns going first, so a change
in the machine's other load does not always hit the same one) the closing summary gives the medians.
Per step it also prints how busy the whole machine was, so a run squeezed by other work shows as such.
Bounded: a fixed number of clients, steps, runs and seconds; loopback only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import uvloop
from chat_loadgen import LoadGenerator, StepResult
from chat_targets import (
    CORES,
    Deployment,
    busy_cores,
    flush_redis,
    install_reference,
    machine_cpu_seconds,
    node_chat,
    python_chat,
    redis_server,
)

HELD_COMPLETE_RATIO = 0.999


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--room-size", type=int, default=10)
    # Up to where the two cores are full (the load generator's share included), so both targets' ceilings are
    # measured; a target stops stepping once it delivers under 90 %.
    parser.add_argument(
        "--rates",
        default="200,400,800,1200,1500,1800,2100,2400,2700,3000,3300,3600,3900,4200,4500,4800",
        help="offered messages/s, ascending",
    )
    parser.add_argument("--step-s", type=float, default=5.0, help="seconds of sending per step")
    parser.add_argument("--settle-s", type=float, default=3.0, help="seconds to wait for stragglers after a step")
    parser.add_argument("--p99-budget-ms", type=float, default=250.0)
    parser.add_argument("--runs", type=int, default=3, help="measure both targets this many times (medians)")
    parser.add_argument("--skip-node", action="store_true", help="measure Marea's chat only (no npm install)")
    parser.add_argument(
        "--server-python",
        default=sys.executable,
        help="interpreter running the chat instances (one with chat/requirements.txt installed); default: this one",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def held(step: StepResult, budget_ms: float) -> bool:
    return step.complete_ratio >= HELD_COMPLETE_RATIO and step.percentile_ms(0.99) <= budget_ms


async def measure(deployment: Deployment, args: argparse.Namespace) -> list[StepResult]:
    load = LoadGenerator(deployment.urls, args.clients, args.room_size)
    try:
        connect_s = await load.connect()
        # The load generator's own GC pauses would be charged to whichever server is measured.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        print(f"  {len(load.clients)} clients in {len(load.rooms)} rooms connected and joined in {connect_s:.1f} s")
        results: list[StepResult] = []
        for rate in (float(r) for r in args.rates.split(",")):
            servers_before, driver_before, machine_before = (
                deployment.cpu_seconds(),
                time.process_time(),
                machine_cpu_seconds(),
            )
            step = await load.step(rate, args.step_s, args.settle_s)
            step.servers_cpu_ms_per_msg = 1000 * (deployment.cpu_seconds() - servers_before) / step.sent
            step.driver_cpu_ms_per_msg = 1000 * (time.process_time() - driver_before) / step.sent
            step.machine_busy_cores = busy_cores(machine_before, machine_cpu_seconds())
            results.append(step)
            row = step.as_dict()
            print(
                f"  offered {rate:>6.0f} msg/s -> delivered {row['delivered_per_s']:>8.1f}/s "
                f"({100 * step.complete_ratio:6.2f} %)  p50 {row['p50_ms']:>8.2f} ms  p99 {row['p99_ms']:>8.2f} ms"
                f"  CPU/msg: servers {step.servers_cpu_ms_per_msg:.2f} ms, load {step.driver_cpu_ms_per_msg:.2f} ms"
                f"  machine {step.machine_busy_cores:.1f}/{CORES} cores busy"
                f"{'' if held(step, args.p99_budget_ms) else '  <- not held'}"
            )
            if step.complete_ratio < 0.9:  # far past saturation: further steps only queue up more
                break
        return results
    finally:
        await load.close()


def run_target(name: str, target: AbstractContextManager[Deployment], args: argparse.Namespace) -> list[StepResult]:
    load_1m, load_5m, _ = os.getloadavg()
    print(f"{name} (machine load average before: {load_1m:.1f} over 1 min, {load_5m:.1f} over 5 min):")
    with target as deployment:
        return uvloop.run(measure(deployment, args))


def best_held(results: list[StepResult], budget_ms: float) -> StepResult | None:
    held_steps = [step for step in results if held(step, budget_ms)]
    return max(held_steps, key=lambda step: step.delivered_per_s) if held_steps else None


def describe(step: StepResult | None) -> str:
    if step is None:
        return "no step held"
    return (
        f"{step.delivered_per_s:.0f} deliveries/s at {step.offered_per_s:.0f} msg/s offered, "
        f"p50 {step.percentile_ms(0.5):.2f} ms, p99 {step.percentile_ms(0.99):.2f} ms"
    )


def summarize(python: list[StepResult], node: list[StepResult] | None, budget_ms: float) -> dict[str, Any]:
    """One run: each target's best held step, their throughput ratio, and p99 at the highest step both held."""
    summary: dict[str, Any] = {"python": [step.as_dict() for step in python]}
    best_python = best_held(python, budget_ms)
    summary["python_best_delivered_per_s"] = best_python.delivered_per_s if best_python else 0.0
    print(f"  Marea chat (python-socketio) best held step: {describe(best_python)}")
    if node is None:
        return summary
    summary["node"] = [step.as_dict() for step in node]
    best_node = best_held(node, budget_ms)
    summary["node_best_delivered_per_s"] = best_node.delivered_per_s if best_node else 0.0
    print(f"  Node.js socket.io reference  best held step: {describe(best_node)}")
    if best_python and best_node:
        ratio = best_python.delivered_per_s / best_node.delivered_per_s
        summary["throughput_ratio"] = round(ratio, 3)
        print(f"  throughput ratio Marea/Node (best held steps): {ratio:.2f}")
    common = [
        (p, n)
        for p, n in zip(python, node, strict=False)
        if held(p, budget_ms) and held(n, budget_ms) and p.offered_per_s == n.offered_per_s
    ]
    if common:
        p, n = common[-1]
        p99_ratio = p.percentile_ms(0.99) / n.percentile_ms(0.99)
        summary["p99_ratio_at_common_step"] = round(p99_ratio, 3)
        summary["common_step_msgs_per_s"] = p.offered_per_s
        print(
            f"  at {p.offered_per_s:.0f} msg/s offered (highest step both held): p99 Marea "
            f"{p.percentile_ms(0.99):.2f} ms vs Node {n.percentile_ms(0.99):.2f} ms (ratio {p99_ratio:.2f}); "
            f"p50 {p.percentile_ms(0.5):.2f} vs {n.percentile_ms(0.5):.2f} ms"
        )
    return summary


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs (a run where a target held no step counts as 0 deliveries/s for it)."""
    medians: dict[str, Any] = {"runs": len(runs)}
    for key in (
        "python_best_delivered_per_s",
        "node_best_delivered_per_s",
        "throughput_ratio",
        "p99_ratio_at_common_step",
    ):
        values = [run[key] for run in runs if key in run]
        if values:
            medians[key] = round(statistics.median(values), 3)
            print(f"  {key}: median {medians[key]:g} (runs: {', '.join(f'{value:g}' for value in values)})")
    return medians


def server_python_version(interpreter: str) -> str:
    return subprocess.run(  # noqa: S603  (the interpreter the caller named)
        [interpreter, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        workdir = Path(tmp)
        rooms = [f"r-{n}" for n in range(args.clients // args.room_size)]
        print(
            f"chat benchmark: {args.clients} clients, rooms of {args.room_size}, 2 instances + 1 redis-server "
            f"on 127.0.0.1, {args.step_s:.0f} s per step, {args.runs} run(s), {CORES} cores"
        )
        python_name = (
            f"Marea chat (python-socketio + Redis manager, Python {server_python_version(args.server_python)})"
        )
        reference = None
        if not args.skip_node:
            (workdir / "node").mkdir()
            reference = install_reference(workdir / "node")
        with redis_server(workdir) as redis_url:
            for number in range(1, args.runs + 1):
                print(f"\nrun {number} of {args.runs}")
                results: dict[str, list[StepResult]] = {}
                targets: list[tuple[str, str, AbstractContextManager[Deployment]]] = [
                    ("python", python_name, python_chat(redis_url, rooms, workdir, args.server_python))
                ]
                if reference is not None:
                    node_target = node_chat(redis_url, rooms, reference)
                    node_entry = ("node", "Node.js reference (socket.io + @socket.io/redis-adapter)", node_target)
                    # Taking turns at going first: a change in the machine's other load does not favour one target.
                    targets.insert(0 if number % 2 == 0 else 1, node_entry)
                for key, name, target in targets:
                    flush_redis(redis_url)
                    results[key] = run_target(name, target, args)
                print(f"run {number} summary:")
                runs.append(summarize(results["python"], results.get("node"), args.p99_budget_ms))
        print(f"\nsummary over {args.runs} run(s):")
        summary = {"runs": runs, "medians": summarize_runs(runs)}
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
