"""Replay a request trace through Marea's engine and through models of other autoscalers.

``run_backtest(trace, policy, world) -> Result`` is the one entry point (the CLI, the bench and
the HTTP API use it). The world model is the contract, written in ``marea_backtest/world.py`` and
``docs/backtesting.md``. Not shipped to Lambda: ``chalicelib`` never imports this package.
"""

from marea_backtest.replay import POLICY_NAMES, Result, run_backtest
from marea_backtest.trace import Trace, load_trace, trace_from_rates
from marea_backtest.world import KINDS, World

__all__ = ["KINDS", "POLICY_NAMES", "Result", "Trace", "World", "load_trace", "run_backtest", "trace_from_rates"]
