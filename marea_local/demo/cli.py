"""`make demo`'s command line: its options, the signals that stop it, and the run."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

from marea_local import demo
from marea_local.demo.chat_tier import DEFAULT_MAX_INSTANCES
from marea_local.demo.display import say
from marea_local.demo.replay import Demo
from marea_local.demo.scene import CHART, MAX_CHAT_INSTANCES, REPLAY_MINUTES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo", description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="HTTP API port (default $PORT or 8000)"
    )
    parser.add_argument(
        "--minutes", type=int, default=REPLAY_MINUTES, help="simulated minutes to replay (default %(default)s)"
    )
    parser.add_argument(
        "--seconds-per-minute", type=float, default=0.05, help="real seconds per simulated minute (default %(default)s)"
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the replay and one API check (unattended runs, CI)"
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=CHART,
        metavar="PATH",
        help="where the backtest chart of the replayed minutes goes (default demo-output/backtest.png)",
    )
    parser.add_argument(
        "--chat",
        choices=["auto", "real", "simulated"],
        default="auto",
        help="the chat tier: real chat processes and clients when redis-server is installed (auto, the default), "
        "always (real: fail without it) or never (simulated)",
    )
    parser.add_argument(
        "--chat-max-instances",
        type=int,
        default=DEFAULT_MAX_INSTANCES,
        metavar="N",
        help=f"at most N real chat processes at once (default %(default)s, at most {MAX_CHAT_INSTANCES}); above "
        "it the running ones hold their share of the users",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="with --once: after the checks, keep serving the API (no live replay) until SIGTERM or Ctrl-C",
    )
    parser.add_argument("--verbose", action="store_true", help="print every minute and chalice local's log")
    args = parser.parse_args(argv)
    if args.hold and not args.once:
        parser.error("--hold goes with --once (without it the demo serves until Ctrl-C anyway)")
    if not 1 <= args.minutes <= 1440:
        parser.error("--minutes must be between 1 and 1440")
    if not 1 <= args.chat_max_instances <= MAX_CHAT_INSTANCES:
        parser.error(f"--chat-max-instances must be between 1 and {MAX_CHAT_INSTANCES}")
    return args


def main(argv: list[str] | None = None) -> int:
    demo = Demo(parse_args(argv))

    def stop(signum: int, _frame: Any) -> None:
        say(f"\n{signal.Signals(signum).name}: finishing the current minute, then stopping the demo")
        demo.stop.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        return demo.run()
    finally:
        demo.shutdown()
