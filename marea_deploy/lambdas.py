"""The Lambdas and their HTTP API: `chalice deploy --stage`, run only when something it deploys has changed.

`chalice deploy` re-uploads every function and re-imports the API each time it runs, so a second
`make deploy` would "change" everything. Instead the inputs of a deploy (the code and vendor/ Chalice
zips, the stage's config and policy, the deploy-time variables app.py reads, the account, Region and
Chalice version) are hashed and the hash recorded beside Chalice's own record
(`.chalice/deployed/<stage>.marea.json`); a deploy with the same hash whose functions are all still
there with the code and environment recorded is left alone.

After Chalice, API Gateway's own error answers get the API's `{"code", "message"}` shape (the gateway
responses `make package` merges into its template; Chalice cannot declare them), and the API is
deployed again for them to take effect.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from marea_deploy import bytecode
from marea_deploy.gateway_responses import GATEWAY_RESPONSES
from marea_deploy.stage_config import function_environment, read_config

# Read by app.py when Chalice loads it (the SQS handler's queue, the tick's rate): part of what is deployed.
DEPLOY_TIME_VARIABLES = ("MAREA_FANOUT_QUEUE_NAME", "MAREA_SCHEDULE_EXPRESSION")
_BUNDLED = ("app.py", "requirements.txt", "chalicelib", "vendor")


class LambdasFailed(Exception):
    """`chalice deploy` or `chalice delete` failed, or what it deployed is not what the stage says."""


@dataclass(frozen=True)
class Lambdas:
    changed: bool
    api_url: str
    functions: dict[str, str]  # Chalice's name -> ARN


@dataclass(frozen=True)
class Where:
    account: str
    region: str
    endpoint: str | None  # AWS_ENDPOINT_URL: the embedded AWS in a rehearsal


def deployed_record(project: Path, stage: str) -> dict[str, Any] | None:
    """Chalice's record of the stage (`.chalice/deployed/<stage>.json`), None before the first deploy."""
    path = project / ".chalice" / "deployed" / f"{stage}.json"
    if not path.is_file():
        return None
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def fingerprint(project: Path, stage: str, deploy_environment: Mapping[str, str], where: Where) -> str:
    digest = hashlib.sha256()
    from chalice import __version__ as chalice_version

    facts = {
        "chalice": chalice_version,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",  # the Lambda runtime Chalice picks
        "stage": stage,
        "where": [where.account, where.region, where.endpoint],
        "deploy_environment": {name: deploy_environment.get(name) for name in DEPLOY_TIME_VARIABLES},
        # What .chalice/config.json says for this stage (another stage's settings are not this deploy's).
        "config": _stage_config(read_config(project), stage),
        "gateway_responses": GATEWAY_RESPONSES,
    }
    digest.update(json.dumps(facts, sort_keys=True).encode())
    for path in _inputs(project, stage):
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stage_config(config: Mapping[str, Any], stage: str) -> dict[str, Any]:
    return {**{k: v for k, v in config.items() if k != "stages"}, "stage": config.get("stages", {}).get(stage)}


def _inputs(project: Path, stage: str) -> Iterator[Path]:
    yield project / ".chalice" / f"policy-{stage}.json"
    for name in _BUNDLED:
        top = project / name
        if top.is_file():
            yield top
        elif top.is_dir():
            yield from sorted(p for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def deploy(session: Any, project: Path, stage: str, deploy_environment: Mapping[str, str], where: Where) -> Lambdas:
    """Deploy the stage's Lambdas unless what is deployed is these inputs already; check their environment."""
    stamp = fingerprint(project, stage, deploy_environment, where)
    record = deployed_record(project, stage)
    marker = _marker(project, stage)
    if record is not None and marker.get("fingerprint") == stamp and _still_deployed(session, project, stage, marker):
        return _lambdas(record, changed=False)
    try:
        bytecode.compile_app(project)  # Chalice bundles chalicelib/ with its __pycache__
    except bytecode.CompileError as error:
        raise LambdasFailed(str(error)) from error
    _chalice(project, ["deploy", "--stage", stage], deploy_environment)
    record = deployed_record(project, stage)
    if record is None:
        raise LambdasFailed(f"chalice deploy wrote no .chalice/deployed/{stage}.json")
    result = _lambdas(record, changed=True)
    _add_gateway_responses(session, project, stage, record)
    mismatched = environment_problems(session, project, stage, result.functions)
    if mismatched:
        raise LambdasFailed("; ".join(mismatched))
    _write_marker(project, stage, stamp, _code_hashes(session, result.functions))
    return result


def delete(project: Path, stage: str) -> bool:
    """`chalice delete --stage`; False when Chalice has no record of the stage here."""
    if deployed_record(project, stage) is None:
        return False
    _chalice(project, ["delete", "--stage", stage], {})
    _marker_path(project, stage).unlink(missing_ok=True)
    return True


def environment_problems(session: Any, project: Path, stage: str, functions: Mapping[str, str]) -> list[str]:
    """Each deployed function whose environment is not the one .chalice/config.json gives it."""
    config = read_config(project)
    client = session.client("lambda")
    problems = []
    for name, arn in functions.items():
        deployed = client.get_function_configuration(FunctionName=arn).get("Environment", {}).get("Variables", {})
        expected = function_environment(config, stage, name)
        if deployed != expected:
            differing = sorted(k for k in {*deployed, *expected} if deployed.get(k) != expected.get(k))
            problems.append(f"{arn}: its environment differs from the stage's in {', '.join(differing)}")
    return problems


def _chalice(project: Path, arguments: list[str], deploy_environment: Mapping[str, str]) -> None:
    chalice = Path(sys.executable).parent / "chalice"
    environment = {**os.environ, **deploy_environment}
    completed = subprocess.run([str(chalice), *arguments], cwd=project, env=environment, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise LambdasFailed(f"chalice {' '.join(arguments)} failed (exit {completed.returncode}; its output is above)")


def _lambdas(record: Mapping[str, Any], *, changed: bool) -> Lambdas:
    resources = record.get("resources", [])
    functions = {r["name"]: r["lambda_arn"] for r in resources if r.get("resource_type") == "lambda_function"}
    api_urls = [r["rest_api_url"] for r in resources if r.get("resource_type") == "rest_api"]
    return Lambdas(changed=changed, api_url=api_urls[0] if api_urls else "", functions=functions)


def _still_deployed(session: Any, project: Path, stage: str, marker: Mapping[str, Any]) -> bool:
    """Every function recorded is there with the code recorded and the stage's environment."""
    record = deployed_record(project, stage) or {}
    functions = _lambdas(record, changed=False).functions
    try:
        codes = _code_hashes(session, functions)
        return codes == marker.get("code") and not environment_problems(session, project, stage, functions)
    except ClientError:
        return False  # a function is gone (ResourceNotFoundException) or unreadable: deploy again


def _code_hashes(session: Any, functions: Mapping[str, str]) -> dict[str, str]:
    client = session.client("lambda")
    return {name: client.get_function_configuration(FunctionName=arn)["CodeSha256"] for name, arn in functions.items()}


def _add_gateway_responses(session: Any, project: Path, stage: str, record: Mapping[str, Any]) -> None:
    from chalice.config import Config

    apis = [r for r in record.get("resources", []) if r.get("resource_type") == "rest_api"]
    if not apis:
        return
    client = session.client("apigateway")
    api_id = apis[0]["rest_api_id"]
    for response_type, response in GATEWAY_RESPONSES.items():
        client.put_gateway_response(restApiId=api_id, responseType=response_type, **response)
    api_stage = Config(chalice_stage=stage, config_from_disk=read_config(project)).api_gateway_stage
    client.create_deployment(restApiId=api_id, stageName=api_stage)


def _marker_path(project: Path, stage: str) -> Path:
    return project / ".chalice" / "deployed" / f"{stage}.marea.json"


def _marker(project: Path, stage: str) -> dict[str, Any]:
    path = _marker_path(project, stage)
    if not path.is_file():
        return {}
    marker: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return marker


def _write_marker(project: Path, stage: str, stamp: str, code: Mapping[str, str]) -> None:
    body = {"fingerprint": stamp, "code": dict(code)}
    _marker_path(project, stage).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
