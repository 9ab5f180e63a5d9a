"""The socket.io protocol of the chat: what clients may send, what the server emits, and why input is refused.

Inbound payloads are checked by hand rather than by a pydantic model because every refusal needs its own
error code for the client (`bad_nick`, `message_too_long`, ...), and the message path is hot.
Outbound payloads are TypedDicts: they go straight to the JSON encoder. chat/README.md documents both.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    BAD_NICK = "bad_nick"
    UNKNOWN_ROOM = "unknown_room"
    NOT_JOINED = "not_joined"
    NOT_IN_ROOM = "not_in_room"
    EMPTY_MESSAGE = "empty_message"
    MESSAGE_TOO_LONG = "message_too_long"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class Refusal(Exception):
    """A client's input the server will not act on; the client gets `error {code, message, event}`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChatMessage(TypedDict):
    id: str
    room: str
    nick: str
    text: str
    ts: int  # server time, epoch milliseconds


class HistoryEvent(TypedDict):
    room: str
    messages: list[ChatMessage]


class PresenceEvent(TypedDict):
    room: str
    nicks: list[str]


class TypingEvent(TypedDict):
    room: str
    nick: str
    typing: bool


class ErrorEvent(TypedDict):
    code: str
    message: str
    event: str


class WelcomeEvent(TypedDict):
    rooms: list[str]
    default_room: str
    max_message_chars: int
    max_nick_chars: int


class DrainingEvent(TypedDict):
    reconnect_in_ms: int


@dataclass(frozen=True, slots=True)
class Limits:
    rooms: frozenset[str]
    default_room: str
    max_message_chars: int
    max_nick_chars: int


@dataclass(frozen=True, slots=True)
class JoinRequest:
    room: str
    nick: str  # HTML-escaped: safe to broadcast


@dataclass(frozen=True, slots=True)
class MessageRequest:
    room: str
    text: str  # HTML-escaped: safe to broadcast


@dataclass(frozen=True, slots=True)
class TypingRequest:
    room: str
    typing: bool


def escape(text: str) -> str:
    """HTML-escape user text once, on the server, so no client ever receives live markup from another."""
    return html.escape(text, quote=True)


def _as_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Refusal(ErrorCode.BAD_REQUEST, "the payload must be a JSON object")
    return data


# Refused in nicks and messages: Cc (the C0 and C1 controls, U+0000-001F and U+007F-009F, a set Unicode keeps
# fixed), Cs (lone surrogates, U+D800-DFFF), and the bidirectional embeddings/overrides/isolates (U+202A-202E,
# U+2066-2069), which reorder the text around them: a classic spoofing tool in chats. Other format characters
# such as the zero-width joiner are left alone because emoji sequences need them. A regular expression scans
# a message in C: this is on every message's path.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# The same with newline (U+000A) and tab (U+0009) allowed: a message may have several lines.
CONTROL_CHARACTERS_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def parse_room(data: dict[str, Any], limits: Limits, *, default: bool) -> str:
    room = data.get("room")
    if room is None and default:
        return limits.default_room
    if not isinstance(room, str):
        raise Refusal(ErrorCode.BAD_REQUEST, "room must be a string")
    if room not in limits.rooms:
        raise Refusal(ErrorCode.UNKNOWN_ROOM, f"unknown room; rooms are {', '.join(sorted(limits.rooms))}")
    return room


def parse_nick(value: Any, limits: Limits) -> str:
    if not isinstance(value, str):
        raise Refusal(ErrorCode.BAD_NICK, "nick must be a string")
    nick = unicodedata.normalize("NFC", value).strip()
    if not nick:
        raise Refusal(ErrorCode.BAD_NICK, "nick must not be empty")
    if len(nick) > limits.max_nick_chars:
        raise Refusal(ErrorCode.BAD_NICK, f"nick is longer than {limits.max_nick_chars} characters")
    if CONTROL_CHARACTERS.search(nick):
        raise Refusal(ErrorCode.BAD_NICK, "nick must not contain control characters")
    return escape(nick)


def parse_join(data: Any, limits: Limits) -> JoinRequest:
    payload = _as_object(data)
    return JoinRequest(room=parse_room(payload, limits, default=True), nick=parse_nick(payload.get("nick"), limits))


def parse_leave(data: Any, limits: Limits) -> str:
    return parse_room(_as_object(data), limits, default=False)


def parse_message(data: Any, limits: Limits) -> MessageRequest:
    payload = _as_object(data)
    room = parse_room(payload, limits, default=False)
    text = payload.get("text")
    if not isinstance(text, str):
        raise Refusal(ErrorCode.BAD_REQUEST, "text must be a string")
    if len(text) > limits.max_message_chars:
        raise Refusal(ErrorCode.MESSAGE_TOO_LONG, f"text is longer than {limits.max_message_chars} characters")
    text = text.strip()
    if not text:
        raise Refusal(ErrorCode.EMPTY_MESSAGE, "text must not be empty")
    if CONTROL_CHARACTERS_IN_TEXT.search(text):
        raise Refusal(ErrorCode.BAD_REQUEST, "text must not contain control characters other than newline and tab")
    return MessageRequest(room=room, text=escape(text))


def parse_typing(data: Any, limits: Limits) -> TypingRequest:
    payload = _as_object(data)
    room = parse_room(payload, limits, default=False)
    typing = payload.get("typing", True)
    if not isinstance(typing, bool):
        raise Refusal(ErrorCode.BAD_REQUEST, "typing must be true or false")
    return TypingRequest(room=room, typing=typing)
