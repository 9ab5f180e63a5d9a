"""Requests to a deployed stage carry a SigV4 signature API Gateway accepts; the console's forwarder signs for the
browser, which holds no credentials. (The upstream recomputes signatures: tests/cli/sigv4_upstream.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from marea_cli import signing
from marea_cli.client import ApiClient, ApiError
from marea_cli.endpoints import Endpoint, EndpointError, resolve
from marea_cli.proxy import make_server, serve_in_background
from tests.cli.sigv4_upstream import SigV4Upstream

KEYS = {"AWS_ACCESS_KEY_ID": "marea-test-key", "AWS_SECRET_ACCESS_KEY": "not-a-secret-signing-test"}

# What the API behind API Gateway answers on two paths: a redirect, and a refusal with its own headers.
CANNED = {
    "/moved": (302, {"Location": "http://127.0.0.1:1/elsewhere"}, b""),
    "/console/nope": (
        404,
        {"Content-Type": "application/json", "Content-Security-Policy": "default-src 'none'"},
        b'{"code": "NOT_FOUND", "message": "no console asset \'nope\'"}',
    ),
}


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[SigV4Upstream]:
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    signing._session.cache_clear()  # the process's session reads this environment, not an earlier test's
    server = SigV4Upstream(Credentials(KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"]), CANNED)
    yield server
    server.close()
    signing._session.cache_clear()


def test_a_signed_request_is_accepted_with_its_query_and_body(upstream: SigV4Upstream) -> None:
    client = ApiClient(Endpoint(upstream.url, signed=True))

    answer = client.call("PATCH", "/targets/web", query={"x": "a b"}, body={"mode": "act"})

    assert answer == {"method": "PATCH", "path": "/targets/web?x=a%20b", "body": '{"mode": "act"}'}
    assert upstream.seen[-1]["signed"] is True


def test_an_unsigned_or_tampered_request_is_refused_as_api_gateway_refuses_it(upstream: SigV4Upstream) -> None:
    with pytest.raises(ApiError) as unsigned:
        ApiClient(Endpoint(upstream.url, signed=False)).call("GET", "/targets")
    assert unsigned.value.status == 403
    assert "signature" in unsigned.value.message

    # Signed for one body, sent with another: the upstream's recomputation tells.
    from marea_cli import signing

    headers = signing.signed_headers("POST", upstream.url + "/backtest", {}, b'{"days": 1}', None)
    request = urllib.request.Request(  # noqa: S310 - loopback
        upstream.url + "/backtest", data=b'{"days": 9}', headers=headers, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as tampered:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert tampered.value.code == 403


def test_the_console_forwarder_signs_for_the_browser_and_relays_the_answer(upstream: SigV4Upstream) -> None:
    proxy = make_server(ApiClient(Endpoint(upstream.url, signed=True)))
    serve_in_background(proxy)
    base = f"http://127.0.0.1:{proxy.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/console?x=1", timeout=10) as answer:  # noqa: S310 - loopback
            assert answer.status == 200
            assert answer.headers["X-Upstream"] == "sigv4-check"
            assert json.loads(answer.read())["path"] == "/console?x=1"
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/targets/web",
            data=b'{"paused": true}',
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            assert json.loads(answer.read())["body"] == '{"paused": true}'
        assert [s["signed"] for s in upstream.seen] == [True, True]
        assert "authorization" not in json.dumps(upstream.seen).lower()  # the browser sent none
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_an_unsigned_forwarder_relays_the_refusal_as_it_came(upstream: SigV4Upstream) -> None:
    proxy = make_server(ApiClient(Endpoint(upstream.url, signed=False)))
    serve_in_background(proxy)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{proxy.server_port}/targets", timeout=10)
        assert refused.value.code == 403
        assert "signature" in json.loads(refused.value.read())["message"]
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_redirects_and_refusals_are_relayed_as_they_came_never_followed(upstream: SigV4Upstream) -> None:
    client = ApiClient(Endpoint(upstream.url, signed=True))
    proxy = make_server(client)
    serve_in_background(proxy)
    base = f"http://127.0.0.1:{proxy.server_port}"
    no_redirects = urllib.request.build_opener(NoRedirects)
    try:
        with pytest.raises(ApiError) as moved_for_cli:
            client.call("GET", "/moved")
        assert str(moved_for_cli.value) == "302 HTTP_ERROR: redirected to http://127.0.0.1:1/elsewhere"
        with pytest.raises(urllib.error.HTTPError) as moved:
            no_redirects.open(f"{base}/moved", timeout=10)
        assert (moved.value.code, moved.value.headers["Location"]) == (302, "http://127.0.0.1:1/elsewhere")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/console/nope", timeout=10)  # noqa: S310 - loopback
        assert missing.value.code == 404
        assert missing.value.headers["Content-Security-Policy"] == "default-src 'none'"
        assert json.loads(missing.value.read())["code"] == "NOT_FOUND"
        assert [s["path"] for s in upstream.seen] == ["/moved", "/moved", "/console/nope"]  # Location never asked
    finally:
        proxy.shutdown()
        proxy.server_close()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """The test's browser stand-in sees the forwarder's 302 itself."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_forwarder_signs_nothing_for_a_rebound_name_or_another_sites_page(upstream: SigV4Upstream) -> None:
    proxy = make_server(ApiClient(Endpoint(upstream.url, signed=True)))
    serve_in_background(proxy)
    base = f"http://127.0.0.1:{proxy.server_port}"

    def status(path: str, method: str = "GET", **headers: str) -> int:
        request = urllib.request.Request(base + path, data=b"{}" if method == "POST" else None, method=method)  # noqa: S310 - loopback
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    try:
        assert status("/targets", Host=f"attacker.example:{proxy.server_port}") == 403  # DNS rebinding
        assert status("/targets/web/evaluate", "POST", Origin="https://attacker.example") == 403  # a cross-site form
        assert upstream.seen == []  # neither was signed nor sent
        assert status("/targets/web/evaluate", "POST", Origin=base) == 200  # the console's own call
        assert status("/targets", Host=f"localhost:{proxy.server_port}") == 200
        assert status("/targets/web/evaluate", "POST") == 200  # curl sends no Origin
        assert len(upstream.seen) == 3
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_stage_resolves_to_the_url_chalice_recorded_and_is_signed_for_its_region(tmp_path: Path) -> None:
    deployed = tmp_path / ".chalice" / "deployed"
    deployed.mkdir(parents=True)
    url = "https://abc123.execute-api.eu-central-1.amazonaws.com/api/"
    record = {
        "schema_version": "2.0",
        "resources": [
            {"name": "api_handler", "resource_type": "lambda_function"},
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123", "rest_api_url": url},
        ],
    }
    (deployed / "prod.json").write_text(json.dumps(record), encoding="utf-8")

    endpoint = resolve(None, "prod", False, tmp_path)

    assert endpoint == Endpoint("https://abc123.execute-api.eu-central-1.amazonaws.com/api", True, "eu-central-1")
    with pytest.raises(EndpointError, match="stage 'dev' is not deployed from here"):
        resolve(None, "dev", False, tmp_path)
    with pytest.raises(EndpointError, match="not both"):
        resolve("http://127.0.0.1:8000", "prod", False, tmp_path)


def test_a_space_in_a_query_is_signed_as_aws_canonicalises_it_also_when_a_browser_writes_it_as_plus(
    upstream: SigV4Upstream,
) -> None:
    """A query signed with `+` for a space (as urlencode and URLSearchParams write it) is refused: AWS reads
    a space and signs %20 (review #6). The client writes %20; the forwarder re-encodes what the browser sent."""
    from marea_cli import signing

    plus = upstream.url + "/decisions?since=2026-12-01+10%3A00"
    request = urllib.request.Request(plus, headers=signing.signed_headers("GET", plus, {}, b"", None))  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert refused.value.code == 403

    assert ApiClient(Endpoint(upstream.url, signed=True)).call("GET", "/decisions", query={"since": "2026-12-01 10:00"})
    proxy = make_server(ApiClient(Endpoint(upstream.url, signed=True)))
    serve_in_background(proxy)
    try:
        url = f"http://127.0.0.1:{proxy.server_port}/decisions?since=2026-12-01+10%3A00&target=web"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert json.loads(answer.read())["path"] == "/decisions?since=2026-12-01%2010%3A00&target=web"
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert [seen["signed"] for seen in upstream.seen] == [False, True, True]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Content-Length": "-1"}, 400), ({"Content-Length": "abc"}, 400), ({"Transfer-Encoding": "chunked"}, 411)],
)
def test_the_forwarder_refuses_a_body_it_cannot_measure(
    upstream: SigV4Upstream, headers: dict[str, str], status: int
) -> None:
    import http.client

    proxy = make_server(ApiClient(Endpoint(upstream.url, signed=True)))
    serve_in_background(proxy)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.server_port, timeout=10)
        connection.putrequest("POST", "/backtest", skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == status
        connection.close()
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert upstream.seen == []  # nothing was forwarded


def test_an_id_is_sent_as_one_path_segment(upstream: SigV4Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    """`marea targets get 'web?x'` asks for the target `web?x`, never for `web` with a query (review #9)."""
    from marea_cli.main import main

    assert main(["targets", "get", "web?x/../y", "--endpoint", upstream.url, "--sign", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == "/targets/web%3Fx%2F..%2Fy"
