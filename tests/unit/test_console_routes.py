"""GET /console and its assets: the page, its script, its style sheet and Chart.js from npm, under a strict CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """The real app through chalice.test; these routes read only the files they serve (no tables, no AWS)."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test", project_dir=str(Path(__file__).resolve().parents[2])) as test_client:
        yield test_client


def test_the_page_is_html_under_a_policy_that_runs_only_its_own_scripts(client: Any) -> None:
    page = client.http.get("/console")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    html = page.body.decode()
    assert '<script src="console/console.js" defer></script>' in html
    assert "<script>" not in html  # no inline script: the policy would refuse it anyway


@pytest.mark.parametrize(
    ("asset", "content_type", "sign"),
    [
        ("console.js", "text/javascript; charset=utf-8", "textContent"),
        ("console.css", "text/css; charset=utf-8", "body {"),
        ("chart.umd.min.js", "text/javascript; charset=utf-8", "Chart.js v4.6.1"),  # from console/package.json
    ],
)
def test_each_asset_is_served_with_its_type(client: Any, asset: str, content_type: str, sign: str) -> None:
    answer = client.http.get(f"/console/{asset}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert sign in answer.body.decode()


@pytest.mark.parametrize("asset", ["index.html", "..%2Fapi%2Fconsole.py", "vendor", "console.js.map"])
def test_only_the_listed_assets_are_served(client: Any, asset: str) -> None:
    answer = client.http.get(f"/console/{asset}")
    assert answer.status_code == 404
    assert answer.json_body["code"] == "NOT_FOUND"
