"""The README's per-route IAM policies for the API (execute-api:Invoke), evaluated against every route of the app.

API Gateway authorises a SigV4 request as execute-api:Invoke on
arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path> (AWS API Gateway developer guide,
"Control access for invoking an API"); the path is the one called, path parameters filled in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.infra.iam_policy import Policy, Request

ROOT = Path(__file__).resolve().parents[2]
API = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/api"
# A value for each path parameter of the app's routes, as a caller would send it.
PATH_VALUES = {"target_id": "web", "decision_id": "01JD0000000000000000000000", "asset": "console.js"}
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def readme_policies() -> dict[str, Policy]:
    """The README's execute-api policies, by the Sid of their statement."""
    policies = {}
    for block in _JSON_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        if "execute-api:Invoke" in block:
            document: dict[str, Any] = json.loads(block)
            policies[document["Statement"][0]["Sid"]] = Policy.from_document("README", document)
    return policies


def route_requests() -> list[tuple[str, Request]]:
    from app import app

    requests = []
    for path, methods in app.routes.items():
        called = path.format(**PATH_VALUES)
        for method in methods:
            requests.append((method, Request("execute-api:Invoke", f"{API}/{method}{called}")))
    return requests


def test_the_readme_has_a_reader_and_an_operator_policy_and_the_app_has_reads_and_writes() -> None:
    assert set(readme_policies()) == {"MareaApiRead", "MareaApiOperate"}
    methods = {method for method, _ in route_requests()}
    assert {"GET", "PUT", "PATCH", "DELETE", "POST"} <= methods


def test_the_reader_may_call_every_get_and_no_route_that_writes() -> None:
    reader = readme_policies()["MareaApiRead"]
    for method, request in route_requests():
        assert reader.allows(request) is (method == "GET"), f"reader on {request}"


def test_the_operator_may_call_every_route() -> None:
    operator = readme_policies()["MareaApiOperate"]
    for _, request in route_requests():
        assert operator.allows(request), f"operator on {request}"


def test_neither_reaches_another_api_or_stage() -> None:
    for policy in readme_policies().values():
        for other in ("a1b2c3d4e5/dev/GET/targets", "zzzzzzzzzz/api/GET/targets"):
            assert not policy.allows(Request("execute-api:Invoke", f"{API.rsplit(':', 1)[0]}:{other}"))
