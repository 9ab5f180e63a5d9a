"""Settings come from MAREA_* variables only, typed and bounded, with defaults for the rest."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.settings import Settings


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_environment({"PATH": "/usr/bin", "AWS_REGION": "eu-west-1"})
    assert settings == Settings(home_region="eu-west-1")  # the only setting not from a MAREA_ variable
    assert settings.targets_table == "marea-targets"
    assert settings.fanout_queue_url is None


def test_prefixed_variables_are_read_and_typed() -> None:
    settings = Settings.from_environment(
        {
            "MAREA_TARGETS_TABLE": "t1",
            "MAREA_INLINE_EVALUATION_LIMIT": "40",
            "marea_decision_ttl_days": "7",  # the prefix and name match in any case
            "MAREA_FANOUT_QUEUE_URL": "http://127.0.0.1:4599/123456789012/q",
            "MAREA_SOMETHING_NEW": "ignored",
            "TARGETS_TABLE": "not ours",
        }
    )
    assert settings.targets_table == "t1"
    assert settings.inline_evaluation_limit == 40
    assert settings.decision_ttl_days == 7
    assert settings.fanout_queue_url == "http://127.0.0.1:4599/123456789012/q"


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAREA_DECISION_TTL_DAYS", "0"), ("MAREA_PENDING_TIMEOUT_S", "ten"), ("MAREA_INLINE_EVALUATION_LIMIT", "10001")],
)
def test_a_bad_value_fails_naming_the_field(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name.removeprefix("MAREA_").lower()):
        Settings.from_environment({name: value})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.targets_table = "other"  # type: ignore[misc]


def test_every_stage_of_the_chalice_config_gives_valid_settings() -> None:
    """A stage whose MAREA_* variables do not validate would fail every invocation of its Lambdas."""
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    for name, stage in config["stages"].items():
        environment = {**config["environment_variables"], **stage.get("environment_variables", {})}
        settings = Settings.from_environment(environment)
        # No stage ships placeholder runner settings ("subnet-REPLACE-…" counted as configured, and a kops change
        # then failed at RunTask): a stage runs no runner, and says which settings to set, until they are its own.
        assert settings.kops_runner() is None, name
        assert not [value for value in environment.values() if "REPLACE" in value], name


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}, "us-east-1"),  # the one botocore reads
        ({"AWS_REGION": "eu-west-1"}, "eu-west-1"),
        ({"MAREA_HOME_REGION": "ap-south-1"}, None),  # where Marea runs is AWS's to say, not a setting's
    ],
)
def test_the_home_region_is_the_one_marea_runs_in(environ: dict[str, str], region: str | None) -> None:
    settings = Settings.from_environment(environ)
    assert settings.home_region == region
    assert settings.limits().home_region == region
