"""GET /console and its assets: the decision console, a static page that reads the same API.

Behind the same IAM authorization as every route (on a deployed stage, `marea console --stage NAME`
forwards the browser's requests signed: docs/console.md). Files are read on first request, not at
import (cold start), and only the ones listed here are served. The page is one script and one style
sheet under a Content-Security-Policy that allows nothing else: no inline script, no other origin.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

console = Blueprint(__name__)
iam = IAMAuthorizer()

ROOT = Path(__file__).resolve().parent.parent / "console"
ASSETS = {
    "console.js": ("console.js", "text/javascript; charset=utf-8"),
    "console.css": ("console.css", "text/css; charset=utf-8"),
    # Chart.js from npm (console/package.json), copied by `make console-assets`.
    "chart.umd.min.js": ("vendor/chart.umd.min.js", "text/javascript; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@lru_cache(maxsize=8)
def _read(relative: str) -> str | None:
    try:
        return (ROOT / relative).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _file(relative: str, content_type: str) -> Response:
    body = _read(relative)
    if body is None:
        missing = {"code": "NOT_FOUND", "message": f"console asset {relative} is not built: run `make console-assets`"}
        return Response(body=missing, status_code=404)
    return Response(body=body, status_code=200, headers={**SECURITY_HEADERS, "Content-Type": content_type})


@console.route("/console", methods=["GET"], authorizer=iam)
def console_page() -> Any:
    return _file("index.html", "text/html; charset=utf-8")


@console.route("/console/{asset}", methods=["GET"], authorizer=iam)
def console_asset(asset: str) -> Any:
    known = ASSETS.get(asset)
    if known is None:
        return Response(body={"code": "NOT_FOUND", "message": f"no console asset {asset!r}"}, status_code=404)
    return _file(*known)
