"""`python -m chat --port P --redis-url redis://127.0.0.1:6379/0`: run one chat instance.

Every setting can also come from a CHAT_* environment variable (see chat/settings.py); flags win.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvloop

from chat.logs import configure_logging
from chat.serve import serve
from chat.settings import ChatSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chat", description=__doc__)
    parser.add_argument("--host", help="address to listen on (CHAT_HOST, default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (CHAT_PORT, default 8080)")
    parser.add_argument("--redis-url", help="Redis URL (CHAT_REDIS_URL, default redis://127.0.0.1:6379/0)")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="(CHAT_LOG_LEVEL, default info)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("redis_url", args.redis_url),
            ("log_level", args.log_level),
        )
        if value
    }
    settings = ChatSettings(**overrides)
    configure_logging(settings.log_level)
    uvloop.run(serve(settings))


if __name__ == "__main__":
    main()
