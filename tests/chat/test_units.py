"""Pure parts of the chat: input rules, the rate limiter, the EMF document, settings, the web side's routing."""

from __future__ import annotations

import ast
import asyncio
import json
import unicodedata
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chat.guard import is_engineio_text_frame
from chat.metrics import connected_clients_emf
from chat.protocol import (
    CONTROL_CHARACTERS,
    CONTROL_CHARACTERS_IN_TEXT,
    ErrorCode,
    Limits,
    Refusal,
    parse_join,
    parse_message,
    parse_typing,
)
from chat.ratelimit import TokenBucket
from chat.settings import ChatSettings
from chat.web import WebApp, load_assets

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(rooms=frozenset({"general", "help"}), default_room="general", max_message_chars=10, max_nick_chars=5)


def test_a_join_without_a_room_goes_to_the_default_room_and_nicks_are_trimmed_and_escaped() -> None:
    request = parse_join({"nick": "  <ab> "}, LIMITS)
    assert (request.room, request.nick) == ("general", "&lt;ab&gt;")


def test_limits_count_characters_as_typed_not_as_escaped() -> None:
    assert parse_message({"room": "help", "text": "<<<<<<<<<<"}, LIMITS).text == "&lt;" * 10
    with pytest.raises(Refusal) as refused:
        parse_message({"room": "help", "text": "x" * 11}, LIMITS)
    assert refused.value.code is ErrorCode.MESSAGE_TOO_LONG


def test_emoji_sequences_pass_and_bidi_overrides_do_not() -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # joined by zero-width joiners
    assert parse_message({"room": "help", "text": family}, LIMITS).text == family
    with pytest.raises(Refusal):
        parse_message({"room": "help", "text": "abc\u202edef"}, LIMITS)


def test_newlines_and_tabs_are_allowed_in_text_but_not_in_nicks() -> None:
    assert parse_message({"room": "help", "text": "a\n\tb"}, LIMITS).text == "a\n\tb"
    with pytest.raises(Refusal) as refused:
        parse_join({"nick": "a\nb"}, LIMITS)
    assert refused.value.code is ErrorCode.BAD_NICK


def test_the_control_character_patterns_are_exactly_the_unicode_categories_they_name() -> None:
    """Cc, Cs and the bidi controls, newline and tab excepted in text: checked over every code point."""
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    basic_plane = [chr(code) for code in range(0x10000)]
    refused = {ch for ch in basic_plane if unicodedata.category(ch) in ("Cc", "Cs") or ch in bidi}
    assert {ch for ch in basic_plane if CONTROL_CHARACTERS.match(ch)} == refused
    assert {ch for ch in basic_plane if CONTROL_CHARACTERS_IN_TEXT.match(ch)} == refused - {"\n", "\t"}
    # Beyond the basic plane there is no Cc, Cs or bidi control, and the patterns find none.
    astral = "".join(chr(code) for code in range(0x10000, 0x110000))
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in astral[::97])
    assert CONTROL_CHARACTERS.search(astral) is None
    assert CONTROL_CHARACTERS_IN_TEXT.search(astral) is None


def test_typing_defaults_to_true_and_must_be_a_boolean() -> None:
    assert parse_typing({"room": "help"}, LIMITS).typing is True
    with pytest.raises(Refusal):
        parse_typing({"room": "help", "typing": 1}, LIMITS)


def test_the_token_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(0.4) is False  # 0.8 of a token
    assert bucket.allow(0.5) is True
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]  # never more than the burst


def test_the_emf_document_is_one_json_line_cloudwatch_understands() -> None:
    line = connected_clients_emf(42, cluster_name="prod", service_name="chat", timestamp_ms=1_700_000_000_000)
    assert "\n" not in line
    assert json.loads(line) == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Marea/Chat",
                    "Dimensions": [["ClusterName", "ServiceName"]],
                    "Metrics": [{"Name": "ConnectedClients", "Unit": "Count"}],
                }
            ],
        },
        "ClusterName": "prod",
        "ServiceName": "chat",
        "ConnectedClients": 42,
    }


def test_an_interval_below_a_minute_emits_a_high_resolution_metric() -> None:
    """CloudWatch keeps 10 s datapoints only of a metric stored at 1 s resolution (EMF's StorageResolution 1)."""
    line = connected_clients_emf(
        7, cluster_name="prod", service_name="chat", timestamp_ms=1_700_000_000_000, high_resolution=True
    )
    [directive] = json.loads(line)["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "ConnectedClients", "Unit": "Count", "StorageResolution": 1}]


def test_settings_come_from_chat_variables_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_ROOMS", '["lobby", "ops"]')
    monkeypatch.setenv("CHAT_DEFAULT_ROOM", "lobby")
    monkeypatch.setenv("CHAT_HISTORY_SIZE", "7")
    settings = ChatSettings()
    assert (settings.rooms, settings.history_size) == (("lobby", "ops"), 7)
    with pytest.raises(ValidationError, match="default_room"):
        ChatSettings(default_room="general")
    with pytest.raises(ValidationError, match="must match"):
        ChatSettings(rooms=("Lobby Room",), default_room="Lobby Room")
    with pytest.raises(ValidationError, match="presence_ttl_s"):
        ChatSettings(heartbeat_s=10, presence_ttl_s=5)
    with pytest.raises(ValidationError, match="not supported by the chat: socket_timeout"):
        ChatSettings(redis_url="redis://cache.local:6379/0?socket_timeout=3")
    with pytest.raises(ValidationError, match="scheme"):
        ChatSettings(redis_url="http://cache.local:6379/0")


@pytest.mark.parametrize(
    ("frame", "valid"), [("2", True), ('42["x"]', True), ("", False), ("\x00", False), ("b", False)]
)
def test_only_engine_io_packet_types_start_a_text_frame(frame: str, valid: bool) -> None:
    assert is_engineio_text_frame(frame) is valid


def get(app: WebApp, path: str, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "method": method, "path": path}, receive, send))
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


async def healthy() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "ok"}


def test_the_web_side_serves_a_fixed_list_of_files_and_nothing_else(tmp_path: Path) -> None:
    app = WebApp(load_assets(ROOT / "chat" / "static", tmp_path / "no-node-modules"), healthy)
    status, headers, body = get(app, "/")
    assert status == 200
    assert b"/vendor/socket.io.min.js" in body
    assert headers[b"content-security-policy"].startswith(b"default-src 'self'")
    for path in ("/../settings.py", "/static/../settings.py", "/static/", "/vendor/socket.io.min.js"):
        assert get(app, path)[0] == 404  # the bundle is missing here: its absence is a 404, never a crash
    assert get(app, "/healthz") == (200, get(app, "/healthz")[1], b'{"status": "ok"}')
    assert get(app, "/", method="POST")[0] == 405


def test_chalicelib_never_imports_the_chat() -> None:
    """Chalice packages chalicelib/ into the Lambda zip; the chat is a separate service with its own image."""
    offenders = []
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path}: {name}" for name in names if name == "chat" or name.startswith("chat.")]
    assert offenders == []
