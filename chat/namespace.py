"""The chat's socket.io event handlers (one class-based namespace, `/`).

Every client event goes through `trigger_event`, the one place where refusals, Redis outages and bugs become
an `error` event for that client instead of an exception: nothing a client sends can take an instance down.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from redis.exceptions import RedisError

from chat.manager import ChatManager
from chat.protocol import (
    ChatMessage,
    ErrorCode,
    ErrorEvent,
    HistoryEvent,
    Limits,
    PresenceEvent,
    Refusal,
    TypingEvent,
    WelcomeEvent,
    parse_join,
    parse_leave,
    parse_message,
    parse_typing,
)
from chat.ratelimit import TokenBucket
from chat.settings import ChatSettings
from chat.store import ChatStore

logger = logging.getLogger("chat.namespace")

Handler = Callable[[str, Any], Awaitable[None]]


@dataclass(slots=True)
class Session:
    """One connection on this instance."""

    messages: TokenBucket
    controls: TokenBucket
    nick: str | None = None
    room: str | None = None


class ChatNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # python-socketio ships no type hints
    def __init__(
        self,
        settings: ChatSettings,
        store: ChatStore,
        manager: ChatManager,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("/")
        self.settings = settings
        self.store = store
        self.manager = manager
        self.clock = clock
        # Message ids: 64 random bits, from a generator seeded by the OS once (secrets would make a system call
        # per message). Ids only tell messages apart (clients de-duplicate by id); they grant nothing.
        self._message_ids = random.Random()  # noqa: S311  # not a secret, see above
        # A forked child would repeat its parent's ids; Python reseeds only the module's own generator.
        os.register_at_fork(after_in_child=self._message_ids.seed)
        self.limits = Limits(
            rooms=frozenset(settings.rooms),
            default_room=settings.default_room,
            max_message_chars=settings.max_message_chars,
            max_nick_chars=settings.max_nick_chars,
        )
        self.sessions: dict[str, Session] = {}
        self.draining = False
        self.handlers: dict[str, Handler] = {
            "join": self.handle_join,
            "leave": self.handle_leave,
            "message": self.handle_message,
            "typing": self.handle_typing,
        }

    # --- dispatch ---------------------------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.on_connect(*args)
        if event == "disconnect":
            return await self.on_disconnect(args[0])
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        try:
            handler = self.handlers.get(event)
            if handler is None:
                raise Refusal(ErrorCode.BAD_REQUEST, f"unknown event; events are {', '.join(self.handlers)}")
            await handler(sid, data)
        except Refusal as refusal:
            await self.refuse(sid, event, refusal.code, refusal.message)
        except RedisError as exc:
            logger.warning("redis unavailable", extra={"event": event, "error": str(exc)})
            await self.refuse(sid, event, ErrorCode.UNAVAILABLE, "the chat store is unavailable; try again shortly")
        except Exception:
            # The outer boundary of a client event: log with the stack, tell the client, keep serving.
            logger.exception("event handler failed", extra={"event": event})
            await self.refuse(sid, event, ErrorCode.INTERNAL, "internal error")
        return None

    async def refuse(self, sid: str, event: str, code: ErrorCode, message: str) -> None:
        payload: ErrorEvent = {"code": code.value, "message": message, "event": str(event)[:64]}
        await self.emit("error", payload, to=sid, ignore_queue=True)

    # --- lifecycle --------------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if self.draining:
            # A task being stopped takes no newcomers; the client retries and the load balancer sends it on.
            raise socketio.exceptions.ConnectionRefusedError({"code": "draining", "message": "instance is draining"})
        settings = self.settings
        self.sessions[sid] = Session(
            messages=TokenBucket(settings.message_rate_per_s, settings.message_burst),
            controls=TokenBucket(settings.control_rate_per_s, settings.control_burst),
        )
        welcome: WelcomeEvent = {
            "rooms": list(settings.rooms),
            "default_room": settings.default_room,
            "max_message_chars": settings.max_message_chars,
            "max_nick_chars": settings.max_nick_chars,
        }
        await self.emit("welcome", welcome, to=sid, ignore_queue=True)

    async def on_disconnect(self, sid: str) -> None:
        session = self.sessions.pop(sid, None)
        if session is None or session.room is None:
            return
        try:
            await self.store.clear_presence(session.room, sid)
            await self.broadcast_presence(session.room)
        except RedisError as exc:
            # The heartbeat stops re-asserting this sid, and the janitor never needs to: it is simply gone
            # from the next presence list computed after Redis answers again.
            logger.warning("presence not cleared", extra={"room": session.room, "error": str(exc)})

    # --- client events ----------------------------------------------------------------------------------

    def _session(self, sid: str) -> Session:
        session = self.sessions.get(sid)
        if session is None:  # an event racing the disconnect of its own connection
            raise Refusal(ErrorCode.NOT_JOINED, "not connected")
        return session

    def _spend_control(self, session: Session) -> None:
        if not session.controls.allow(self.clock()):
            raise Refusal(ErrorCode.RATE_LIMITED, "too many requests; slow down")

    async def handle_join(self, sid: str, data: Any) -> None:
        session = self._session(sid)
        self._spend_control(session)
        request = parse_join(data, self.limits)
        previous = session.room
        if previous is not None and previous != request.room:
            await self._leave(sid, session)
        session.nick = request.nick
        await self.enter_room(sid, request.room)
        session.room = request.room
        await self.store.set_presence(request.room, sid, request.nick)
        history: HistoryEvent = {"room": request.room, "messages": await self.store.history(request.room)}
        await self.emit("history", history, to=sid, ignore_queue=True)
        await self.broadcast_presence(request.room)

    async def handle_leave(self, sid: str, data: Any) -> None:
        session = self._session(sid)
        self._spend_control(session)
        room = parse_leave(data, self.limits)
        if session.room != room:
            raise Refusal(ErrorCode.NOT_IN_ROOM, "you are not in that room")
        await self._leave(sid, session)

    async def _leave(self, sid: str, session: Session) -> None:
        room = session.room
        if room is None:
            return
        await self.leave_room(sid, room)
        session.room = None
        await self.store.clear_presence(room, sid)
        await self.broadcast_presence(room)

    async def handle_message(self, sid: str, data: Any) -> None:
        session = self._session(sid)
        # Spend before parsing, so a flood of malformed payloads is throttled like any other flood.
        if not session.messages.allow(self.clock()):
            raise Refusal(ErrorCode.RATE_LIMITED, "too many messages; slow down")
        request = parse_message(data, self.limits)
        if session.room is None or session.nick is None:
            raise Refusal(ErrorCode.NOT_JOINED, "join a room first")
        if request.room != session.room:
            raise Refusal(ErrorCode.NOT_IN_ROOM, "you are not in that room")
        message: ChatMessage = {
            "id": f"{self._message_ids.getrandbits(64):016x}",
            "room": request.room,
            "nick": session.nick,
            "text": request.text,
            "ts": int(time.time() * 1000),
        }
        # Stored and published to the other instances in one Redis round trip, then delivered here: if Redis
        # refuses, the sender hears `unavailable` and nobody saw a half-sent message.
        emit = self.manager.room_emit("message", message, room=request.room)
        await self.store.append_history(message, publish=(emit.channel, emit.payload))
        await self.manager.deliver_locally(emit)

    async def handle_typing(self, sid: str, data: Any) -> None:
        session = self._session(sid)
        self._spend_control(session)
        request = parse_typing(data, self.limits)
        if session.room != request.room or session.nick is None:
            raise Refusal(ErrorCode.NOT_IN_ROOM, "you are not in that room")
        typing: TypingEvent = {"room": request.room, "nick": session.nick, "typing": request.typing}
        await self.emit("typing", typing, room=request.room, skip_sid=sid)

    # --- presence ---------------------------------------------------------------------------------------

    async def broadcast_presence(self, room: str) -> None:
        presence: PresenceEvent = {"room": room, "nicks": await self.store.presence(room)}
        await self.emit("presence", presence, room=room)

    def local_members(self) -> dict[str, dict[str, str]]:
        """room -> sid -> nick for the connections on this instance (what the heartbeat re-asserts)."""
        members: dict[str, dict[str, str]] = {room: {} for room in self.settings.rooms}
        for sid, session in self.sessions.items():
            if session.room is not None and session.nick is not None:
                members[session.room][sid] = session.nick
        return members
