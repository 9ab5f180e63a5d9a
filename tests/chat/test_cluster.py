"""Two chat instances sharing one real redis-server act as one chat.

Given clients connected to instance A and to instance B, when they join a room and talk,
then messages, presence, history and typing cross the instance boundary.
"""

from __future__ import annotations

import asyncio
import html
import re

from tests.chat.client import chat_clients
from tests.chat.harness import ChatInstance

Pair = tuple[ChatInstance, ChatInstance]


def test_a_message_sent_on_one_instance_reaches_the_room_on_both(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url, b.url) as (ana, bob, eve):
            await ana.join("room-1", "ana")
            await bob.join("room-1", "bob")
            await eve.join("room-2", "eve")

            await ana.say("room-1", "hello from A")

            for client in (ana, bob):  # the sender gets it too: that is its delivery receipt
                message = await client.wait_for("message", lambda m: m["text"] == "hello from A")
                assert message["room"] == "room-1"
                assert message["nick"] == "ana"
                assert isinstance(message["ts"], int)
                assert len(message["id"]) == 16
            await asyncio.sleep(0.3)
            assert eve.events("message") == []  # another room hears nothing

    asyncio.run(scenario())


def test_message_ids_are_16_hex_digits_and_never_repeat_across_instances(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, a.url, b.url, b.url) as clients:
            for n, client in enumerate(clients):
                await client.join("room-17", f"user{n}")
            texts = [f"{n}-{k}" for n in range(len(clients)) for k in range(10)]  # each within its burst
            for n, client in enumerate(clients):
                for k in range(10):
                    await client.say("room-17", f"{n}-{k}")
            await clients[0].wait_for("message", lambda m: m["text"] == texts[-1])
            await asyncio.sleep(0.2)
            ids = [message["id"] for message in clients[0].events("message")]
            assert len(ids) == len(texts)
            assert all(re.fullmatch("[0-9a-f]{16}", message_id) for message_id in ids)
            assert len(set(ids)) == len(ids)

    asyncio.run(scenario())


def test_presence_is_the_same_on_both_instances_and_follows_leaves_and_disconnects(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url, a.url) as (ana, bob, cid):
            await ana.join("room-3", "ana")
            await bob.join("room-3", "Bob")
            await cid.join("room-3", "cid")
            for client in (ana, bob, cid):
                await client.wait_for_presence("room-3", ["ana", "Bob", "cid"])

            await bob.emit("leave", {"room": "room-3"})
            await ana.wait_for_presence("room-3", ["ana", "cid"])

            await cid.close()
            await ana.wait_for_presence("room-3", ["ana"])

    asyncio.run(scenario())


def test_switching_rooms_moves_presence_and_history(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url) as (ana, bob):
            await ana.join("room-4", "ana")
            await bob.join("room-4", "bob")
            await ana.say("room-4", "before the switch")
            await bob.wait_for("message", lambda m: m["text"] == "before the switch")

            history = await ana.join("room-5", "ana")

            assert history == {"room": "room-5", "messages": []}
            await bob.wait_for_presence("room-4", ["bob"])
            await ana.wait_for_presence("room-5", ["ana"])
            await bob.say("room-4", "after the switch")
            await bob.wait_for("message", lambda m: m["text"] == "after the switch")
            await asyncio.sleep(0.2)
            assert "after the switch" not in [m["text"] for m in ana.events("message")]

    asyncio.run(scenario())


def test_a_newcomer_on_the_other_instance_gets_the_last_messages_in_order(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url, connect=False) as (ana, zoe):
            await ana.connect()
            await ana.join("room-6", "ana")
            for n in range(7):  # the pair keeps CHAT_HISTORY_SIZE=5
                await ana.say("room-6", f"line {n}")
            await ana.wait_for("message", lambda m: m["text"] == "line 6")

            await zoe.connect()
            history = await zoe.join("room-6", "zoe")

            assert [m["text"] for m in history["messages"]] == [f"line {n}" for n in range(2, 7)]
            assert {m["nick"] for m in history["messages"]} == {"ana"}

    asyncio.run(scenario())


def test_typing_reaches_the_others_in_the_room_but_not_the_typist(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url) as (ana, bob):
            await ana.join("room-7", "ana")
            await bob.join("room-7", "bob")

            await ana.emit("typing", {"room": "room-7", "typing": True})
            assert await bob.wait_for("typing") == {"room": "room-7", "nick": "ana", "typing": True}
            await ana.emit("typing", {"room": "room-7", "typing": False})
            await bob.wait_for("typing", lambda t: t["typing"] is False)

            assert ana.events("typing") == []

    asyncio.run(scenario())


def test_long_polling_clients_talk_with_websocket_clients(pair: Pair) -> None:
    """Browsers behind proxies that block websockets fall back to HTTP long-polling (why the ALB is sticky)."""

    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url, connect=False) as (ana, bob):
            await ana.connect(transport="polling")
            await bob.connect()
            await ana.join("room-8", "ana")
            await bob.join("room-8", "bob")

            await bob.say("room-8", "to the poller")
            await ana.wait_for("message", lambda m: m["text"] == "to the poller")
            await ana.say("room-8", "from the poller")
            await bob.wait_for("message", lambda m: m["text"] == "from the poller")

    asyncio.run(scenario())


def test_every_character_arrives_as_sent_on_both_instances_and_in_the_history(pair: Pair) -> None:
    """The packets are encoded by orjson (chat/json_codec.py): what each client decodes must be what was sent."""
    text = (
        'caf\u00e9 \u4e2d\u6587 \U0001f469\u200d\U0001f469\u200d\U0001f467 "q" \\ / \u2028\u2029\nline\ttab \u00a0end'
    )

    async def scenario() -> None:
        a, b = pair
        async with chat_clients(a.url, b.url) as (ana, bob):
            await ana.join("room-16", "\u00e0na \U0001f600")
            await bob.join("room-16", "bob")

            await ana.say("room-16", f"  {text}  ")

            here = await ana.wait_for("message", lambda m: m["room"] == "room-16")
            there = await bob.wait_for("message", lambda m: m["room"] == "room-16")
            assert here == there  # the sender's own instance and the other one deliver the same message
            assert here["text"] == html.escape(text, quote=True)
            assert here["nick"] == "\u00e0na \U0001f600"
            async with chat_clients(b.url) as (zoe,):
                history = await zoe.join("room-16", "zoe")
            assert history["messages"] == [here]

    asyncio.run(scenario())
