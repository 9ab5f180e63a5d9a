"""GET/PUT/DELETE /targets through the real Chalice app, DynamoDB on the embedded AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.models.targets import TargetTrackingPolicy
from chalicelib.store.items import TARGET_ADAPTER

HEADERS = {"Content-Type": "application/json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def web_target(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "asg",
        "asg_name": "web",
        "min": 1,
        "max": 10,
        "mode": "act",
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
                "target_value": 60,
            },
            {
                "type": "step",
                "name": "burst",
                "alarm_name": "web-cpu-high",
                "adjustment_type": "change_in_capacity",
                "steps": [{"lower_bound": 0, "upper_bound": 20, "adjustment": 1}, {"lower_bound": 20, "adjustment": 3}],
            },
        ],
    }
    body.update(overrides)
    return body


def put(client: Any, target_id: str, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.put(f"/targets/{target_id}", headers=HEADERS, body=raw)


def test_given_a_valid_body_when_put_then_created_and_readable(client: Any) -> None:
    response = put(client, "web", web_target())
    assert response.status_code == 201
    assert response.json_body["version"] == 1

    fetched = client.http.get("/targets/web").json_body
    assert fetched["id"] == "web"
    assert fetched["kind"] == "asg"
    assert (fetched["min"], fetched["max"], fetched["mode"], fetched["paused"]) == (1, 10, "act", False)
    assert [p["name"] for p in fetched["policies"]] == ["cpu", "burst"]


def test_given_an_existing_target_when_put_again_then_replaced_with_next_version(client: Any) -> None:
    put(client, "web", web_target())
    response = put(client, "web", web_target(max=20, policies=[]))
    assert response.status_code == 200
    assert response.json_body["version"] == 2
    assert client.http.get("/targets/web").json_body["max"] == 20


def test_a_default_scale_in_window_is_not_stored_so_a_patched_period_gets_its_own_and_a_given_one_stays(
    client: Any,
) -> None:
    """AWS's 15 minutes in the metric's datapoints: 90 of 10 s, then 15 of 60 s once the period is patched."""
    fast = {
        "type": "target_tracking",
        "name": "cpu",
        "metric": {"type": "custom", "namespace": "App", "metric_name": "CPUUtilization", "period_s": 10},
        "target_value": 60,
    }
    assert put(client, "web", web_target(policies=[fast])).status_code == 201

    def stored() -> tuple[dict[str, Any], TargetTrackingPolicy]:
        """The policy as GET returns it, and as the engine reads it."""
        document = client.http.get("/targets/web").json_body
        document.pop("version")
        tracking = TARGET_ADAPTER.validate_python(document).policies[0]
        assert isinstance(tracking, TargetTrackingPolicy)
        return document["policies"][0], tracking

    returned, tracking = stored()
    assert "scale_in_datapoints" not in returned
    assert tracking.scale_in_window == 90
    minute = {**fast, "metric": {**fast["metric"], "period_s": 60}}
    patched = client.http.patch("/targets/web", headers=MERGE_PATCH, body=json.dumps({"policies": [minute]}))
    assert patched.status_code == 200, patched.json_body
    returned, tracking = stored()
    assert "scale_in_datapoints" not in returned
    assert tracking.scale_in_window == 15
    given = {**fast, "scale_in_datapoints": 15}
    assert put(client, "web", web_target(policies=[given])).status_code == 200
    returned, tracking = stored()
    assert (returned["scale_in_datapoints"], tracking.scale_in_window) == (15, 15)


def test_given_targets_when_listed_then_all_returned_by_id(client: Any) -> None:
    put(client, "web", web_target())
    put(client, "chat", {"kind": "ecs", "cluster": "c", "service": "chat", "min": 1, "max": 5})
    listed = client.http.get("/targets").json_body
    assert [t["id"] for t in listed["targets"]] == ["chat", "web"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (web_target(min=5, max=2), "min (5) must not exceed max (2)"),
        (web_target(max=-1), "max"),
        (web_target(kind="lambda"), "kind"),
        (web_target(mode="yolo"), "mode"),
        (web_target(unknown_field=1), "unknown_field"),
        (
            web_target(
                policies=[{"type": "target_tracking", "name": "cpu", "metric": {"type": "custom"}, "target_value": 0}]
            ),
            "policies.0",
        ),
        (
            web_target(
                policies=[
                    {
                        "type": "scheduled",
                        "name": "s",
                        "actions": [{"name": "a", "cron": "61 * * * *", "min_capacity": 2}],
                    }
                ]
            ),
            "cron",
        ),
        (
            web_target(
                policies=[
                    {
                        "type": "scheduled",
                        "name": "s",
                        "actions": [{"name": "a", "cron": "0 8 * * *", "timezone": "Mars/Olympus", "min_capacity": 2}],
                    }
                ]
            ),
            "time zone",
        ),
        (web_target(id="other"), "differs from the path"),
    ],
)
def test_given_an_invalid_body_when_put_then_400_names_the_field_and_nothing_is_written(
    client: Any, body: Any, field: str
) -> None:
    response = put(client, "web", body)
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] in {"VALIDATION_FAILED", "BAD_REQUEST"}
    assert field in response.json_body["message"]
    assert client.http.get("/targets/web").status_code == 404


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', ""])
def test_given_a_body_that_is_not_a_json_object_when_put_then_400(client: Any, raw: str) -> None:
    response = put(client, "web", raw)
    assert response.status_code == 400
    assert response.json_body["code"] == "BAD_REQUEST"


def test_given_a_predefined_metric_of_another_kind_when_put_then_400(client: Any) -> None:
    body = web_target(
        policies=[
            {
                "type": "target_tracking",
                "name": "mem",
                "metric": {"type": "predefined", "predefined": "ECSServiceAverageMemoryUtilization"},
                "target_value": 70,
            }
        ]
    )
    response = put(client, "web", body)
    assert response.status_code == 400
    assert response.json_body["message"].startswith("policies.0.metric")


def test_given_an_unknown_target_when_read_or_deleted_then_404(client: Any) -> None:
    for response in (
        client.http.get("/targets/nope"),
        client.http.delete("/targets/nope"),
        client.http.post("/targets/nope/evaluate"),
    ):
        assert response.status_code == 404
        assert response.json_body == {"code": "NOT_FOUND", "message": "target 'nope' is not registered"}


def test_given_a_target_id_with_bad_characters_when_read_then_400(client: Any) -> None:
    response = client.http.get("/targets/bad%20id")
    assert response.status_code == 400


def test_given_a_target_when_deleted_then_gone_with_its_alarm_links(client: Any, data_stack: Any, clients: Any) -> None:
    put(client, "web", web_target())
    assert client.http.delete("/targets/web").status_code == 204
    assert client.http.get("/targets/web").status_code == 404
    items = clients["dynamodb"].query(
        TableName=data_stack.targets_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "A#web-cpu-high"}},
    )["Items"]
    assert items == []


def test_the_openapi_description_is_served_and_matches_what_the_api_accepts(client: Any) -> None:
    document = client.http.get("/openapi.json").json_body
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/backtest",
        "/decisions",
        "/decisions/{decision_id}",
        "/targets",
        "/targets/{target_id}",
        "/targets/{target_id}/evaluate",
    }
    body_schema = document["components"]["schemas"]["AsgTargetBody"]
    assert "id" not in body_schema["required"]
    assert {"kind", "asg_name", "min", "max"} <= set(body_schema["required"])
    limit = next(p for p in document["paths"]["/decisions"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
