"""Where the API is: --endpoint, $MAREA_ENDPOINT, the local demo, or a deployed stage's URL from Chalice's record."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

DEMO_ENDPOINT = "http://127.0.0.1:8000"  # `make demo`'s API (PORT= moves it; then pass --endpoint)
_EXECUTE_API = re.compile(r"^https://[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


class EndpointError(Exception):
    """No API address could be found for what was asked."""


@dataclass(frozen=True)
class Endpoint:
    url: str  # without a trailing slash
    signed: bool  # SigV4 with the caller's AWS credentials (API Gateway's IAM authorization)
    region: str | None = None  # for the signature; None: the AWS session's

    def join(self, path: str) -> str:
        return self.url + "/" + path.lstrip("/")


def stage_url(stage: str, project_dir: Path) -> str:
    """The REST API URL `chalice deploy --stage` recorded in .chalice/deployed/<stage>.json."""
    record = project_dir / ".chalice" / "deployed" / f"{stage}.json"
    try:
        deployed = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EndpointError(
            f"stage {stage!r} is not deployed from here: {record} is missing (run `chalice deploy --stage {stage}` "
            "in the project, or pass --endpoint URL --sign)"
        ) from None
    except ValueError as exc:
        raise EndpointError(f"{record} is not JSON ({exc})") from None
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "rest_api" and resource.get("rest_api_url"):
            return str(resource["rest_api_url"])
    raise EndpointError(f"{record} records no REST API for stage {stage!r}")


def resolve(endpoint: str | None, stage: str | None, sign: bool, project_dir: Path) -> Endpoint:
    if endpoint and stage:
        raise EndpointError("give --endpoint or --stage, not both")
    if stage:
        url = stage_url(stage, project_dir)
        signed = True
    else:
        url = endpoint or os.environ.get("MAREA_ENDPOINT") or DEMO_ENDPOINT
        signed = sign
    if not re.match(r"^https?://", url):
        raise EndpointError(f"the endpoint must be an http(s) URL, got {url!r}")
    match = _EXECUTE_API.match(url)
    return Endpoint(url=url.rstrip("/"), signed=signed, region=match["region"] if match else None)
