"""The chat's configuration: one pydantic-settings model, read from CHAT_* variables and the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chat.redis_address import RedisAddress

PACKAGE_DIR = Path(__file__).resolve().parent
# Room names travel in URLs, Redis keys and the page: a conservative alphabet keeps them inert everywhere.
ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class ChatSettings(BaseSettings):
    """Everything an operator may tune; defaults suit one Fargate task of 0.25 vCPU behind an ALB."""

    model_config = SettingsConfigDict(env_prefix="CHAT_", extra="ignore", frozen=True)

    host: str = "0.0.0.0"  # noqa: S104  (a container listens on all its interfaces; the ALB is in front)
    port: int = Field(default=8080, ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis AUTH, kept out of the URL so it never shows in logs (ECS injects it from Secrets Manager).
    redis_password: SecretStr | None = None
    redis_max_connections: int = Field(default=32, ge=2, le=1000, description="history/presence pool size")
    redis_channel: str = Field(
        default="marea-chat", min_length=1, description="pub/sub channel of the socket.io manager"
    )
    key_prefix: str = Field(default="chat", min_length=1, description="prefix of every Redis key the chat writes")

    rooms: tuple[str, ...] = ("general", "random", "help")
    default_room: str = "general"
    history_size: int = Field(default=50, ge=0, le=1000, description="messages kept per room in Redis")
    max_message_chars: int = Field(default=1000, ge=1, le=20_000)
    max_nick_chars: int = Field(default=24, ge=1, le=64)
    # engine.io refuses (closes) packets above this size before any handler sees them.
    max_packet_bytes: int = Field(default=64 * 1024, ge=1024)

    message_rate_per_s: float = Field(default=5.0, gt=0, description="sustained messages per connection")
    message_burst: int = Field(default=10, ge=1)
    control_rate_per_s: float = Field(default=4.0, gt=0, description="join/leave/typing events per connection")
    control_burst: int = Field(default=12, ge=1)

    heartbeat_s: float = Field(default=5.0, gt=0, description="how often an instance re-asserts its presence")
    presence_ttl_s: float = Field(default=20.0, gt=0, description="an instance silent this long is presumed dead")
    drain_timeout_s: float = Field(default=20.0, ge=0, description="SIGTERM: how long clients get to move away")
    metrics_interval_s: float = Field(default=60.0, gt=0)
    cluster_name: str = "local"
    service_name: str = "chat"

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cors_allowed_origins: tuple[str, ...] = ()
    static_dir: Path = PACKAGE_DIR / "static"
    node_modules_dir: Path = PACKAGE_DIR / "node_modules"

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_understood(cls, url: str) -> str:
        RedisAddress.from_url(url)  # ValueError for a scheme or option the chat's Redis connections do not take
        return url

    @field_validator("rooms")
    @classmethod
    def _rooms_are_names(cls, rooms: tuple[str, ...]) -> tuple[str, ...]:
        if not rooms:
            raise ValueError("at least one room is needed")
        for room in rooms:
            if not ROOM_NAME.match(room):
                raise ValueError(f"room {room!r} must match {ROOM_NAME.pattern}")
        if len(set(rooms)) != len(rooms):
            raise ValueError("room names must be unique")
        return rooms

    @model_validator(mode="after")
    def _default_room_exists(self) -> ChatSettings:
        if self.default_room not in self.rooms:
            raise ValueError(f"default_room {self.default_room!r} is not one of rooms {list(self.rooms)}")
        if self.presence_ttl_s <= self.heartbeat_s:
            raise ValueError("presence_ttl_s must exceed heartbeat_s, or live instances would look dead")
        return self
