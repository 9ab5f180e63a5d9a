"""What `marea targets` and `marea decisions` print: the API's bodies as rows (or as they came, with --output json)."""

from __future__ import annotations

from typing import Any

from marea_cli.tables import Column, printable, render

TARGET_COLUMNS = [
    Column("ID", 20),
    Column("KIND", 4),
    Column("MODE", 6),
    Column("PAUSED", 6),
    Column("MIN-MAX", 9),
    Column("RESOURCE", 80),
]
DECISION_COLUMNS = [
    Column("UTC", 14),
    Column("TARGET", 14),
    Column("OUTCOME", 11),
    Column("CHANGE", 9),
    Column("EXPLANATION", 80),
]


def resource(target: dict[str, Any]) -> str:
    """The scaled resource, as its owner names it."""
    kind = target.get("kind")
    if kind == "asg":
        return f"asg {target.get('asg_name')}"
    if kind == "ecs":
        return f"ecs {target.get('cluster')}/{target.get('service')}"
    if kind == "kops":
        return f"kops {target.get('cluster_name')} {target.get('instance_group')}"
    return str(kind)


def targets_table(targets: list[dict[str, Any]]) -> str:
    rows = [
        [
            str(t.get("id")),
            str(t.get("kind")),
            str(t.get("mode")),
            "yes" if t.get("paused") else "no",
            f"{t.get('min')}-{t.get('max')}",
            resource(t),
        ]
        for t in targets
    ]
    return render(TARGET_COLUMNS, rows)


def decision_row(d: dict[str, Any]) -> list[str]:
    at = str(d.get("created_at", ""))[5:19].replace("T", " ")  # MM-DD HH:MM:SS: the year leaves room for why
    change = f"{d.get('current')}->{d.get('final')}"
    return [at, str(d.get("target_id")), str(d.get("outcome")), change, str(d.get("explanation", ""))]


def decisions_table(decisions: list[dict[str, Any]]) -> str:
    return render(DECISION_COLUMNS, [decision_row(d) for d in decisions])


def target_detail(target: dict[str, Any]) -> str:
    return printable(_target_lines(target))


def _target_lines(target: dict[str, Any]) -> str:
    lines = [f"{key}: {value}" for key, value in target.items() if key != "policies"]
    for policy in target.get("policies", []):
        lines.append(f"policy {policy.get('name')}: {policy.get('type')}")
    return "\n".join(lines)


def decision_detail(d: dict[str, Any]) -> str:
    return printable(_decision_lines(d))


def _decision_lines(d: dict[str, Any]) -> str:
    keys = ["id", "target_id", "created_at", "updated_at", "trigger", "mode", "action", "current", "proposed", "final"]
    lines = [f"{key}: {d.get(key)}" for key in keys]
    lines += [f"outcome: {d.get('outcome')}", f"reasons: {', '.join(d.get('reasons', []))}"]
    if d.get("error"):
        lines.append(f"error: {d['error']}")
    lines.append(f"explanation: {d.get('explanation')}")
    return "\n".join(lines)
