"""Replay a request trace through Marea's engine and through models of other autoscalers.

``run_backtest(trace, policy, world) -> Result`` is the one entry point: ``POST /backtest``
(chalicelib/target_backtest.py) and the ``marea backtest`` CLI, chart and bench (marea_backtest/)
use it. Pure: no boto3, no environment, no clock but the CPU time it reports, and nothing
outside requirements.txt, because the Lambdas run it. The world model is the contract, written in
``chalicelib/backtest/world.py`` and ``docs/backtesting.md``.
"""

from chalicelib.backtest.metrics import Summary
from chalicelib.backtest.policies.engine import UnsupportedPolicyError
from chalicelib.backtest.replay import POLICY_NAMES, PolicySpec, Result, run_backtest
from chalicelib.backtest.trace import Trace, TraceError, trace_from_rates
from chalicelib.backtest.world import KINDS, Kind, World

__all__ = [
    "KINDS",
    "POLICY_NAMES",
    "Kind",
    "PolicySpec",
    "Result",
    "Summary",
    "Trace",
    "TraceError",
    "UnsupportedPolicyError",
    "World",
    "run_backtest",
    "trace_from_rates",
]
