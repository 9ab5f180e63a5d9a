"""Several replays of one trace (policies, targets), one after the other or in worker processes.

A replay is CPU-bound pure Python (``marea`` takes about 8 s per 40,000 minutes), so ``jobs`` > 1
runs them in a ``ProcessPoolExecutor``: threads would share one interpreter lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest.policies.presets import scheduled_target
from chalicelib.backtest.replay import PolicySpec, Progress, Result, run_backtest
from chalicelib.backtest.trace import Trace
from chalicelib.backtest.world import World
from chalicelib.models.targets import ScheduledPolicy


@dataclass(frozen=True)
class Replay:
    policy: PolicySpec  # one of POLICY_NAMES, or a Marea target (--target)
    world: World
    label: str = ""  # how the reports name it; the policy's name by default
    alarms: Mapping[str, AlarmDefinition] = field(default_factory=dict)  # a target's, by name (--alarms)


def run_replays(
    trace: Trace,
    replays: Sequence[Replay],
    schedule: ScheduledPolicy | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[Result]:
    """The results in the order of ``replays``; ``progress`` counts minutes for one replay, replays for more."""
    if len(replays) == 1:
        return [replay(trace, replays[0], schedule, progress)]
    results: list[Result] = []
    if jobs == 1:
        for done, job in enumerate(replays, start=1):
            results.append(replay(trace, job, schedule))
            if progress is not None:
                progress(done, len(replays))
        return results
    with ProcessPoolExecutor(max_workers=min(jobs, len(replays))) as pool:
        futures = [pool.submit(replay, trace, job, schedule) for job in replays]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(replays))
        return [future.result() for future in futures]


def replay(trace: Trace, job: Replay, schedule: ScheduledPolicy | None, progress: Progress | None = None) -> Result:
    """One replay; ``scheduled`` replays ``schedule`` when one is given (--schedule), else writes its own."""
    policy = job.policy
    if policy == "scheduled" and schedule is not None:
        policy = scheduled_target(job.world, schedule)
    label = job.label or (job.policy if isinstance(job.policy, str) else None)
    return run_backtest(trace, policy, job.world, progress=progress, label=label, alarms=job.alarms)
