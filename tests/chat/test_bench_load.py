"""The chat benchmark's load (bench/chat/chat_loadgen.py) spreads every room over every instance.

The benchmark exists to measure the path a room message takes across instances (Redis pub/sub, then the other
instance's members); a room whose members all sit on one instance never takes it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest

LOADGEN_PATH = Path(__file__).resolve().parents[2] / "bench" / "chat" / "chat_loadgen.py"


def load_loadgen() -> ModuleType:
    # The benchmark runs as a script (bench/chat is not a package); dataclasses need the module registered.
    if "chat_loadgen" in sys.modules:
        return sys.modules["chat_loadgen"]
    spec = importlib.util.spec_from_file_location("chat_loadgen", LOADGEN_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chat_loadgen"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("clients", "room_size", "instances"),
    [(500, 10, 2), (600, 10, 2), (500, 10, 3), (60, 4, 2), (90, 9, 3)],
)
def test_every_room_has_members_on_every_instance(clients: int, room_size: int, instances: int) -> None:
    urls = [f"http://127.0.0.1:{8000 + n}" for n in range(instances)]
    load = load_loadgen().LoadGenerator(urls, clients, room_size)

    members: dict[str, list[str]] = defaultdict(list)
    for client in load.clients:
        members[client.room].append(client.url)

    assert len(members) == clients // room_size
    for room, room_urls in members.items():
        assert len(room_urls) == room_size, room
        # As even as the room size allows: no instance holds more than its share rounded up.
        counts = [room_urls.count(url) for url in urls]
        assert min(counts) >= room_size // instances, (room, counts)
        assert max(counts) <= -(-room_size // instances), (room, counts)


def test_a_room_smaller_than_the_instances_is_refused() -> None:
    with pytest.raises(ValueError, match="room"):
        load_loadgen().LoadGenerator(["http://a", "http://b", "http://c"], 20, 2)
