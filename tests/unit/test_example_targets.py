"""examples/targets/*.json: valid targets, and the resources the demo creates are the ones they name."""

from __future__ import annotations

import pytest

from chalicelib.store.items import TARGET_ADAPTER
from marea_local import demo
from marea_local.example_targets import EXAMPLES, NAMES, example_target


def test_every_example_file_is_listed() -> None:
    assert sorted(path.stem for path in EXAMPLES.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_example_is_a_valid_target_named_as_its_file(name: str) -> None:
    target = TARGET_ADAPTER.validate_python(example_target(name))
    assert target.id == name


def test_the_examples_scale_what_the_demo_creates_and_link_its_alarms() -> None:
    web, chat, nodes = (TARGET_ADAPTER.validate_python(example_target(n)) for n in ("web", "chat", "nodes"))
    assert web.asg_name == demo.WEB_ASG  # type: ignore[union-attr]
    assert (chat.cluster, chat.service) == (demo.CHAT_CLUSTER, demo.CHAT_SERVICE)  # type: ignore[union-attr]
    assert (nodes.cluster_name, nodes.instance_group) == (demo.KOPS_CLUSTER, demo.KOPS_IG)  # type: ignore[union-attr]
    alarms = {p.alarm_name for t in (web, chat) for p in t.policies if p.type == "step"}  # type: ignore[union-attr]
    assert alarms == {demo.WEB_ALARM, demo.CHAT_ALARM}
