"""``marea backtest``: replay a request trace file, print its summary, write its CSV and chart.

The replay core (world model, policies, metrics, ``run_backtest``) lives in ``chalicelib.backtest``
because ``POST /backtest`` runs it in the Lambda; this package is the offline layer around it
(CLI, trace files, CSV report, chart, progress bar, synthetic traces) and re-exports the core's
public names so ``from marea_backtest import run_backtest, World, ...`` keeps working.
"""

from chalicelib.backtest import (
    KINDS,
    POLICY_NAMES,
    Result,
    Summary,
    Trace,
    TraceError,
    UnsupportedPolicyError,
    World,
    run_backtest,
    trace_from_rates,
)
from marea_backtest.trace import load_trace

__all__ = [
    "KINDS",
    "POLICY_NAMES",
    "Result",
    "Summary",
    "Trace",
    "TraceError",
    "UnsupportedPolicyError",
    "World",
    "load_trace",
    "run_backtest",
    "trace_from_rates",
]
