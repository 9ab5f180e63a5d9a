"""`chalice package` offline, per deployed stage: the template is cfn-lint clean and wired to the data stack.

Packaged with an empty requirements.txt (infra/package.py --no-dependencies): the template does not
depend on the zip's contents and no wheel has to be fetched. `make package` builds the real zip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.templates import ROOT, run, template

CORE_HANDLERS = {"app.app", "app.on_alarm_state_change", "app.on_schedule_tick", "app.on_evaluation_message"}


@pytest.fixture(scope="module", params=["dev", "prod"])
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    stage: str = request.param
    out = tmp_path_factory.mktemp(f"package-{stage}")
    result = run(
        [sys.executable, str(ROOT / "infra" / "package.py"), "--stage", stage, "--no-dependencies", "--out", str(out)]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return stage, out / "sam.yaml"


def _resources(path: Path, kind: str) -> dict[str, Any]:
    from marea_local.data_stack import load_template

    return {k: v for k, v in load_template(path)["Resources"].items() if v["Type"] == kind}


def _globals(path: Path) -> dict[str, Any]:
    from marea_local.data_stack import load_template

    shared: dict[str, Any] = load_template(path)["Globals"]
    return shared


def _stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return dict(config["stages"][stage].get("environment_variables", {}))


def _data_stack_names(stage: str) -> dict[str, str]:
    """Resource names marea-data.yaml gives a stage (its outputs)."""
    resources = template("marea-data.yaml")["Resources"]

    def name(logical_id: str, prop: str) -> str:
        return str(resources[logical_id]["Properties"][prop]["Sub"]).replace("${Stage}", stage)

    return {
        "MAREA_TARGETS_TABLE": name("TargetsTable", "TableName"),
        "MAREA_DECISIONS_TABLE": name("DecisionsTable", "TableName"),
        "MAREA_IDEMPOTENCY_TABLE": name("IdempotencyTable", "TableName"),
        "queue": name("EvaluationQueue", "QueueName"),
    }


def test_the_package_is_valid_lint_clean_and_uses_the_stage_policy(packaged: tuple[str, Path]) -> None:
    """infra/package.py exited 0: cfn-lint clean, every role's policy is .chalice/policy-<stage>.json."""
    _, sam = packaged

    assert sam.exists()
    assert (sam.parent / "deployment.zip").exists()


# Run in the unpacked zip, read-only as Lambda's code folder: counts the app's modules Python compiles from source.
_COMPILED_FROM_SOURCE = """
import importlib.machinery, sys
compiled = []
to_code = importlib.machinery.SourceFileLoader.source_to_code
def recording(self, data, path, **kwargs):
    compiled.append(path)
    return to_code(self, data, path, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = recording
import chalicelib.triggers, chalicelib.wiring, chalicelib.api.routes
print(sum("/chalicelib/" in p for p in compiled), sum(m.startswith("chalicelib") for m in sys.modules))
"""


def test_lambda_compiles_none_of_the_apps_modules_at_a_cold_start(packaged: tuple[str, Path], tmp_path: Path) -> None:
    """The zip carries chalicelib's bytecode (hash-checked): unpacked, Python compiles none of its modules from
    source (the probe counts what it compiles, whether or not it could write the result)."""
    import os
    import zipfile

    _, sam = packaged
    unpacked = tmp_path / "task"
    zipfile.ZipFile(sam.parent / "deployment.zip").extractall(unpacked)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # Lambda's code folder is read-only

    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _COMPILED_FROM_SOURCE], cwd=unpacked, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr[-2000:]
    compiled, imported = map(int, result.stdout.split())
    assert imported > 50  # the alarm path's modules and the API's, not a handful
    assert compiled == 0


def test_stale_or_missing_bytecode_in_the_zip_is_a_package_problem(tmp_path: Path) -> None:
    """A .pyc compiled from other source (or none) is named: Lambda would compile that module at every cold start."""
    import py_compile
    import zipfile

    from infra import package

    (tmp_path / "fresh.py").write_text("A = 1\n")
    (tmp_path / "edited.py").write_text("B = 1\n")
    for name in ("fresh", "edited"):
        py_compile.compile(
            str(tmp_path / f"{name}.py"),
            str(tmp_path / f"{name}.pyc"),
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    (tmp_path / "edited.py").write_text("B = 2\n")  # edited after compiling
    tag = sys.implementation.cache_tag
    archive_path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name in ("fresh", "edited"):
            archive.write(tmp_path / f"{name}.py", f"chalicelib/{name}.py")
            archive.write(tmp_path / f"{name}.pyc", f"chalicelib/__pycache__/{name}.{tag}.pyc")
        archive.writestr("chalicelib/bare.py", "C = 1\n")
        archive.writestr("chalice/app.py", "D = 1\n")  # Chalice's own copy, always source: not a problem

    with zipfile.ZipFile(archive_path) as archive:
        problems = package._bytecode_problems(archive)

    assert problems == ["deployment.zip: 2 modules of chalicelib lack current bytecode (chalicelib/bare.py)"]


def test_the_console_and_its_chart_library_are_in_the_lambda_bundle(packaged: tuple[str, Path]) -> None:
    """GET /console serves files from chalicelib/console/, Chart.js among them (from npm: make console-assets)."""
    import zipfile

    _, sam = packaged
    names = set(zipfile.ZipFile(sam.parent / "deployment.zip").namelist())
    for asset in ("index.html", "console.js", "console.css", "vendor/chart.umd.min.js"):
        assert f"chalicelib/console/{asset}" in names


def test_every_function_is_wired_to_the_stage_data_stack(packaged: tuple[str, Path]) -> None:
    stage, sam = packaged
    names = _data_stack_names(stage)
    functions = _resources(sam, "AWS::Serverless::Function")

    assert {f["Properties"]["Handler"] for f in functions.values()} >= CORE_HANDLERS
    shared = _globals(sam)["Function"]["Environment"]["Variables"]
    for function in functions.values():
        # SAM merges Globals' variables into each function's; the function's own win.
        variables = {**shared, **function["Properties"]["Environment"]["Variables"]}
        assert variables["MAREA_TARGETS_TABLE"] == names["MAREA_TARGETS_TABLE"]
        assert variables["MAREA_DECISIONS_TABLE"] == names["MAREA_DECISIONS_TABLE"]
        assert variables["MAREA_IDEMPOTENCY_TABLE"] == names["MAREA_IDEMPOTENCY_TABLE"]
        # The data stack's export, not an account id typed into .chalice/config.json; after a real `make deploy`
        # the stage's config holds the URL its data stack gave, which wins (the same queue).
        deployed_url = _stage_environment(stage).get("MAREA_FANOUT_QUEUE_URL")
        expected = deployed_url or {"Fn::ImportValue": f"marea-{stage}-evaluation-queue-url"}
        assert variables["MAREA_FANOUT_QUEUE_URL"] == expected
        assert function["Properties"]["Runtime"].startswith("python3.1")


def test_events_reach_the_handlers(packaged: tuple[str, Path]) -> None:
    stage, sam = packaged
    events: dict[str, Any] = {
        f["Properties"]["Handler"]: next(iter(f["Properties"].get("Events", {}).values()), None)
        for f in _resources(sam, "AWS::Serverless::Function").values()
    }

    assert events["app.on_alarm_state_change"]["Properties"]["Pattern"]["source"] == ["aws.cloudwatch"]
    assert events["app.on_schedule_tick"]["Properties"]["Schedule"] == "rate(1 minute)"
    queue = events["app.on_evaluation_message"]["Properties"]["Queue"]["Fn::Sub"]
    assert queue.endswith(":" + _data_stack_names(stage)["queue"])


def test_every_api_route_requires_sigv4(packaged: tuple[str, Path]) -> None:
    _, sam = packaged
    (api,) = _resources(sam, "AWS::Serverless::Api").values()
    swagger = api["Properties"]["DefinitionBody"]

    assert swagger["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    methods = [(path, verb, spec) for path, item in swagger["paths"].items() for verb, spec in item.items()]
    assert len(methods) >= 7
    for path, verb, spec in methods:
        assert spec.get("security") == [{"sigv4": []}], f"{verb.upper()} {path} is not IAM-authorised"


def test_api_gateways_own_error_answers_have_the_api_error_shape(packaged: tuple[str, Path]) -> None:
    """A request API Gateway refuses itself (no such route, no signature) gets {"code", "message"} too."""
    import json

    _, sam = packaged
    (api,) = _resources(sam, "AWS::Serverless::Api").values()
    responses = api["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]

    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        template = response["responseTemplates"]["application/json"]
        # API Gateway's values for an unknown route: the type, and the message as a quoted JSON string
        rendered = template.replace("$context.error.responseType", "MISSING_AUTHENTICATION_TOKEN").replace(
            "$context.error.messageString", json.dumps("Missing Authentication Token")
        )
        assert json.loads(rendered) == {
            "code": "MISSING_AUTHENTICATION_TOKEN",
            "message": "Missing Authentication Token",
        }
