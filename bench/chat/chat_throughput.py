"""Benchmark: Marea's chat (python-socketio + Redis) against the Node.js socket.io + Redis reference.

    .venv/bin/python bench/chat/chat_throughput.py [--clients 500] [--room-size 10] [--rates 100,200,...]

Both targets run as two instances on 127.0.0.1 sharing one redis-server; N clients join rooms of
`room-size` members spread over both instances. The load steps through offered message rates (random
senders); per step it prints delivered messages per second (deliveries to recipients) and the latency until
every member of the room had a message (p50/p99). A step "holds" when at least 99.9 % of deliveries arrived
and p99 stayed under --p99-budget-ms. The summary compares the highest held step of each target and the
latencies at the highest step both held. Bounded: a fixed number of clients, steps and seconds; loopback only.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import uvloop
from chat_loadgen import LoadGenerator, StepResult
from chat_targets import Deployment, flush_redis, install_reference, node_chat, python_chat, redis_server

HELD_COMPLETE_RATIO = 0.999


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--rates", default="50,100,200,300,400,600", help="offered messages/s, ascending")
    parser.add_argument("--step-s", type=float, default=5.0, help="seconds of sending per step")
    parser.add_argument("--settle-s", type=float, default=3.0, help="seconds to wait for stragglers after a step")
    parser.add_argument("--p99-budget-ms", type=float, default=250.0)
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
            servers_before, driver_before = deployment.cpu_seconds(), time.process_time()
            step = await load.step(rate, args.step_s, args.settle_s)
            step.servers_cpu_ms_per_msg = 1000 * (deployment.cpu_seconds() - servers_before) / step.sent
            step.driver_cpu_ms_per_msg = 1000 * (time.process_time() - driver_before) / step.sent
            results.append(step)
            row = step.as_dict()
            print(
                f"  offered {rate:>6.0f} msg/s -> delivered {row['delivered_per_s']:>8.1f}/s "
                f"({100 * step.complete_ratio:6.2f} %)  p50 {row['p50_ms']:>8.2f} ms  p99 {row['p99_ms']:>8.2f} ms"
                f"  CPU/msg: servers {step.servers_cpu_ms_per_msg:.2f} ms, load {step.driver_cpu_ms_per_msg:.2f} ms"
                f"{'' if held(step, args.p99_budget_ms) else '  <- not held'}"
            )
            if step.complete_ratio < 0.9:  # far past saturation: further steps only queue up more
                break
        return results
    finally:
        await load.close()


def run_target(name: str, target: AbstractContextManager[Deployment], args: argparse.Namespace) -> list[StepResult]:
    print(f"{name}:")
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
    summary: dict[str, Any] = {"python": [step.as_dict() for step in python]}
    best_python = best_held(python, budget_ms)
    print("\nsummary:")
    print(f"  Marea chat (python-socketio) best held step: {describe(best_python)}")
    if node is None:
        return summary
    summary["node"] = [step.as_dict() for step in node]
    best_node = best_held(node, budget_ms)
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        workdir = Path(tmp)
        rooms = [f"r-{n}" for n in range(args.clients // args.room_size)]
        print(
            f"chat benchmark: {args.clients} clients, rooms of {args.room_size}, 2 instances + 1 redis-server "
            f"on 127.0.0.1, {args.step_s:.0f} s per step"
        )
        with redis_server(workdir) as redis_url:
            version = subprocess.run(  # noqa: S603  (the interpreter the caller named)
                [args.server_python, "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            python = run_target(
                f"Marea chat (python-socketio + AsyncRedisManager, Python {version})",
                python_chat(redis_url, rooms, workdir, args.server_python),
                args,
            )
            node = None
            if not args.skip_node:
                (workdir / "node").mkdir()
                server = install_reference(workdir / "node")
                flush_redis(redis_url)
                node = run_target(
                    "Node.js reference (socket.io + @socket.io/redis-adapter)",
                    node_chat(redis_url, rooms, server),
                    args,
                )
        summary = summarize(python, node, args.p99_budget_ms)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
