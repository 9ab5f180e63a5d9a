"""POST /backtest at its largest: 14 days of 1-minute demand replayed under a current and a proposed policy.

API Gateway ends a REST request after 29 s, so the route's work must fit well inside that on the
Lambda. This times what the route does after reading the target (chalicelib/target_backtest.py
``backtest``): read 20,160 datapoints, build the trace and the world, replay both policies,
compare, and serialise the response (``model_dump`` + ``json.dumps``, what Chalice sends), with and
without the trajectory.

The demand is NASA's July 1995 trace (bench/data), 14 days of it. CloudWatch is botocore's Stubber
answering the one GetMetricData call with those datapoints: the embedded moto's GetMetricData
scans every datapoint for every period (20,160 x 20,160 here), which would time moto, not Marea;
the real call's network time (one page) is not in these figures.

A Lambda gets CPU in proportion to its memory (one vCPU at 1,769 MB), and the replay is one thread
of pure Python, so the CPU time is also scaled to the API function's memory in each deployed stage
(``api_handler`` in .chalice/config.json; 1,769 MB because of these figures: at the stages' 512 MB
and 1,024 MB the largest backtest came to about 30-40 s and 15-21 s).

Usage: .venv/bin/python bench/backtest_api.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from chalicelib.models.backtest import BacktestRequest  # noqa: E402
from chalicelib.models.targets import AsgTarget  # noqa: E402
from chalicelib.target_backtest import backtest  # noqa: E402
from marea_backtest.trace import load_trace  # noqa: E402

NASA = ROOT / "bench" / "data" / "nasa_jul95.csv"
DAYS = 14
UNITS_AT_MEAN = 7  # U = mean demand / 7, as bench/backtest.py sizes it
API_GATEWAY_LIMIT_S = 29.0
FULL_VCPU_MB = 1769
DEFAULT_LAMBDA_MB = 128  # Chalice's default when nothing is configured
STAGES = ("dev", "prod")
REQUESTS = {"type": "custom", "namespace": "App/Web", "metric_name": "RequestCount", "statistic": "Sum"}
CPU = {"type": "predefined", "predefined": "ASGAverageCPUUtilization"}
CURRENT_POLICIES: dict[str, list[dict[str, Any]]] = {
    "target tracking on CPU": [{"type": "target_tracking", "name": "cpu", "metric": CPU, "target_value": 60}],
    "predictive (as marea)": [
        {"type": "predictive", "name": "requests", "metric": REQUESTS, "unit_capacity": 1.0, "lead_s": 240}
    ],
}


@dataclass(frozen=True)
class Timing:
    scenario: str
    trajectory: bool
    cpu_s: float
    wall_s: float
    replay_cpu_s: tuple[float, float]
    response_bytes: int


def stubbed_cloudwatch(start: datetime, values: list[float]) -> tuple[Any, Stubber]:
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")  # noqa: S106 - never sent: the Stubber answers
    stub = Stubber(client)
    stub.activate()
    timestamps = [start + timedelta(minutes=i) for i in range(len(values))]
    stub.add_response(
        "get_metric_data", {"MetricDataResults": [{"Id": "demand", "Timestamps": timestamps, "Values": values}]}
    )
    return client, stub


def run(scenario: str, policies: list[dict[str, Any]], demand: list[float], trajectory: bool) -> Timing:
    now = datetime(2026, 3, 16, 0, 0, 30, tzinfo=UTC)
    end = now.replace(second=0)
    start = end - timedelta(days=DAYS)
    unit_capacity = sum(demand) / len(demand) / UNITS_AT_MEAN
    policies = [{**p, "unit_capacity": unit_capacity} if p["type"] == "predictive" else p for p in policies]
    target = AsgTarget(id="web", asg_name="web", min=1, max=500, policies=policies, scale_in_stabilization_s=1200)
    request = BacktestRequest.model_validate(
        {
            "target": "web",
            "days": DAYS,
            "unit_capacity": unit_capacity,
            "demand_metric": {"namespace": "App/Web", "metric_name": "RequestCount"},
            "proposed": "marea",
            "trajectory": trajectory,
        }
    )
    cloudwatch, stub = stubbed_cloudwatch(start, demand)
    cpu, wall = time.process_time(), time.perf_counter()
    response = backtest(request, target, cloudwatch, now)
    body = json.dumps(response.model_dump(mode="json"))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stub.assert_no_pending_responses()
    if response.minutes != DAYS * 1440:
        raise RuntimeError(f"replayed {response.minutes} minutes, not {DAYS * 1440}")
    replays = (response.current.cpu_seconds, response.proposed.cpu_seconds)
    return Timing(scenario, trajectory, cpu, wall, replays, len(body))


def api_memory_mb() -> dict[str, int]:
    """Memory of the API Lambda (Chalice's ``api_handler``) per deployed stage, as Chalice resolves it."""
    from chalice.config import Config

    disk = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    sizes = {}
    for stage in STAGES:
        size = Config(chalice_stage=stage, function_name="api_handler", config_from_disk=disk).lambda_memory_size
        sizes[stage] = int(size or DEFAULT_LAMBDA_MB)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N per scenario")
    args = parser.parse_args()
    demand = list(load_trace(NASA).demand[: DAYS * 1440])
    memory = api_memory_mb()
    print(f"POST /backtest: {DAYS} days = {len(demand):,} minutes of {NASA.name}, proposed 'marea'")
    print(f"best of {args.repeats}; the Lambda columns scale CPU s to the API function's memory per stage")
    header = (
        f"{'current policy':<24} {'trajectory':>10} {'CPU s':>7} {'wall s':>7} {'replays CPU s':>15} {'response':>10}"
        + "".join(f" {f'{stage} {mb} MB':>14}" for stage, mb in memory.items())
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for scenario, policies in CURRENT_POLICIES.items():
        for trajectory in (False, True):
            runs = [run(scenario, policies, demand, trajectory) for _ in range(args.repeats)]
            best = min(runs, key=lambda t: t.cpu_s)
            lambdas = {stage: best.cpu_s * FULL_VCPU_MB / min(mb, FULL_VCPU_MB) for stage, mb in memory.items()}
            worst = max(worst, *lambdas.values())
            print(
                f"{scenario:<24} {trajectory!s:>10} {best.cpu_s:7.2f} {best.wall_s:7.2f}"
                f" {best.replay_cpu_s[0]:7.2f} + {best.replay_cpu_s[1]:5.2f} {best.response_bytes / 1e3:8.0f} kB"
                + "".join(f" {f'~{s:.1f} s':>14}" for s in lambdas.values())
            )
    print(
        f"\nLambda: CPU s x {FULL_VCPU_MB} MB / memory (one vCPU at {FULL_VCPU_MB} MB; one thread uses no more);"
        f" API Gateway's limit is {API_GATEWAY_LIMIT_S:g} s. Worst estimate: {worst:.1f} s"
        f" ({'within' if worst < API_GATEWAY_LIMIT_S else 'OVER'} the limit)."
    )


if __name__ == "__main__":
    main()
