"""Where a target lives: Marea's own account and Region, another Region, or another account through a role."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.models.location import HOME, Location
from chalicelib.resource_limits import AllowList, ResourceLimits
from chalicelib.store.items import TARGET_ADAPTER

ROLE = "arn:aws:iam::111122223333:role/marea-dev-spoke"


def target(**fields: Any) -> Any:
    group = {} if "kind" in fields else {"kind": "asg", "asg_name": "web"}
    return TARGET_ADAPTER.validate_python({"id": "t", "min": 1, "max": 5, **group, **fields})


def test_a_target_that_names_nothing_lives_where_marea_runs_and_its_json_is_as_before() -> None:
    plain = target()
    assert plain.location == HOME
    assert plain.location.is_home
    dumped = plain.model_dump(mode="json")
    assert not {"account_id", "region", "role_arn", "external_id"} & set(dumped)
    assert TARGET_ADAPTER.validate_python(dumped) == plain


def test_a_role_names_the_account_and_the_region_is_its_own() -> None:
    away = target(role_arn=ROLE, region="us-west-2", external_id="shared-secret", account_id="111122223333")
    assert away.location == Location(region="us-west-2", role_arn=ROLE, external_id="shared-secret")
    assert away.location.account_id == "111122223333"
    assert away.location.describe() == f"account 111122223333 (as {ROLE}), Region us-west-2"
    assert target(region="eu-west-1").location.describe() == "Marea's own account, Region eu-west-1"
    assert TARGET_ADAPTER.validate_python(away.model_dump(mode="json")) == away


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"account_id": "111122223333"}, "give role_arn"),
        ({"external_id": "abc"}, "give role_arn too"),
        ({"account_id": "999999999999", "role_arn": ROLE}, "role_arn is a role of account 111122223333"),
        ({"account_id": "12345"}, "account_id"),
        ({"region": "Mars-1"}, "region"),
        ({"role_arn": "arn:aws:iam::111122223333:user/someone"}, "role_arn"),
        ({"role_arn": ROLE, "external_id": "x"}, "external_id"),  # STS: 2 characters at least
        ({"role_arn": ROLE, "external_id": "spaces are not allowed"}, "external_id"),
    ],
)
def test_a_location_that_cannot_be_reached_is_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        target(**fields)


def test_an_ecs_arn_must_agree_with_where_the_target_says_it_lives() -> None:
    service = {"kind": "ecs", "cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/chat", "service": "chat"}
    assert target(**service, role_arn=ROLE, region="us-west-2").location.region == "us-west-2"
    with pytest.raises(ValidationError, match="cluster is an ARN in Region us-west-2"):
        target(**service, role_arn=ROLE, region="eu-west-1")
    other_account = "arn:aws:iam::444455556666:role/marea-dev-spoke"
    with pytest.raises(ValidationError, match="cluster is an ARN in account 111122223333"):
        target(**service, role_arn=other_account, region="us-west-2")


def test_a_kops_target_lives_where_its_runner_acts() -> None:
    kops = {"kind": "kops", "cluster_name": "k.example.com", "instance_group": "nodes", "state_store": "s3://kops"}
    assert target(**kops).location.is_home
    for fields in ({"region": "us-west-2"}, {"role_arn": ROLE}):
        with pytest.raises(ValidationError, match="not supported for kops targets"):
            target(**kops, **fields)


def test_marea_s_own_region_is_named_by_leaving_region_out() -> None:
    limits = ResourceLimits(home_region="us-east-1")
    assert limits.region_refusal(target(region="us-east-1")) == (
        "region: us-east-1 is the Region Marea runs in: leave region out"
    )
    assert limits.region_refusal(target(region="us-west-2")) is None
    assert limits.region_refusal(target(role_arn=ROLE)) is None


def test_the_allow_list_names_the_accounts_and_regions_marea_may_reach() -> None:
    listed = ResourceLimits(allowed=AllowList.parse("asg:*,account:111122223333,region:us-*"))
    assert listed.refusal(target()) is None  # Marea's own account and Region are always allowed
    assert listed.refusal(target(role_arn=ROLE, region="us-west-2")) is None
    assert listed.refusal(target(role_arn=ROLE, region="eu-west-1")) == (
        "Region 'eu-west-1' is not among the resources this stage lets Marea manage "
        "(MAREA_ALLOWED_RESOURCES: region:us-*)"
    )
    other = "arn:aws:iam::444455556666:role/marea-dev-spoke"
    assert "account '444455556666' is not among" in (listed.refusal(target(role_arn=other)) or "")
    # a list written before accounts existed allows none but Marea's own
    older = ResourceLimits(allowed=AllowList.parse("asg:*"))
    assert "account '111122223333'" in (older.refusal(target(role_arn=ROLE)) or "")
