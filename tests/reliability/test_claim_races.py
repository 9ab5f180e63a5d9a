"""Targets racing for one resource: of PUTs made at the same moment, exactly one claims it.

Runs on the serialized embedded AWS (embedded.py): moto's own transactions are not isolated, real
DynamoDB's are. The registry is called from threads, as concurrent API Lambdas would call it.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.errors import ConflictError
from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.embedded import fresh_stack
from tests.reliability.sizes import scaled

RACERS = 4


def body(target_id: str, resource: int, kind: str) -> dict[str, Any]:
    common = {"id": target_id, "min": 1, "max": 5}
    if kind == "kops":
        return {
            **common,
            "kind": "kops",
            "cluster_name": "k.example.com",
            "instance_group": f"ig-{resource}",
            "state_store": "s3://kops-state",
        }
    return {**common, "kind": "asg", "asg_name": f"ig-{resource}.k.example.com"}


def race(bodies: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """PUT every body at once; the ids that were written and the messages of those refused."""
    from chalicelib import wiring
    from chalicelib.store.items import TARGET_ADAPTER

    registry = wiring.registry()
    start = threading.Barrier(len(bodies))
    written: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def racer(document: dict[str, Any]) -> None:
        target = TARGET_ADAPTER.validate_python(document)
        start.wait()
        try:
            registry.put(target)
        except ConflictError as exc:
            with lock:
                refused.append(exc.message)
            return
        with lock:
            written.append(target.id)

    threads = [threading.Thread(target=racer, args=(document,)) for document in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return written, refused


def test_of_targets_racing_for_one_resource_exactly_one_wins_and_the_others_name_it(aws: EmbeddedAws) -> None:
    from chalicelib import wiring

    fresh_stack(aws)
    for resource in range(scaled(5, 40)):
        # kops and asg targets alternate: an instance group and its Auto Scaling group are one resource
        bodies = [body(f"r{resource}-{i}", resource, "kops" if i % 2 else "asg") for i in range(RACERS)]

        written, refused = race(bodies)

        assert len(written) == 1, (written, refused)
        assert len(refused) == RACERS - 1
        assert all(f"target {written[0]!r}" in message for message in refused), refused
        registered = [t.target.id for t in wiring.registry().iter_all() if t.target.id.startswith(f"r{resource}-")]
        assert registered == written
