"""Stands in for API Gateway's IAM authorization, which cannot run here: an HTTP server on 127.0.0.1 that
recomputes each request's SigV4 signature with botocore from the credentials it knows, answers 403 (as API
Gateway does, {"message": ...}) when it is missing or wrong, and otherwise a JSON echo of what it received (or,
for a path in ``canned``, the status, headers and body given there, as the API behind API Gateway would)."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def expected_signature(method: str, url: str, headers: dict[str, str], body: bytes, creds: Credentials) -> str | None:
    match = AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None or match["service"] != "execute-api" or match["key"] != creds.access_key:
        return None
    signed = {name: headers[name] for name in match["signed"].split(";") if name in headers}
    # As AWS canonicalises the query (not as the client wrote it): each name and value decoded (a + is a space,
    # as in a form), then %-encoded per RFC 3986. botocore takes a query as given, so it is rebuilt here.
    path, _, query = url.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    request = AWSRequest(method=method, url=path + (f"?{canonical_query}" if query else ""), data=body, headers=signed)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    auth = SigV4Auth(creds, "execute-api", match["region"])
    canonical = auth.canonical_request(request)
    signature: str = auth.signature(auth.string_to_sign(request, canonical), request)
    return signature if signature == match["signature"] else None


class SigV4Upstream:
    def __init__(self, creds: Credentials, canned: dict[str, tuple[int, dict[str, str], bytes]] | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        seen, canned_answers = self.seen, canned or {}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            answers: ClassVar[int] = 0

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers.get('host', '')}{self.path}"
                ok = expected_signature(self.command, url, headers, body, creds) is not None
                seen.append({"method": self.command, "path": self.path, "signed": ok, "body": body.decode()})
                status, answer = (
                    (200, {"method": self.command, "path": self.path, "body": body.decode()})
                    if ok
                    else (
                        403,
                        {"message": "The request signature we calculated does not match the signature you provided."},
                    )
                )
                payload, headers = json.dumps(answer).encode(), {"Content-Type": "application/json"}
                if ok and self.path in canned_answers:
                    status, headers, payload = canned_answers[self.path]
                self.send_response(status)
                for name, value in {**headers, "X-Upstream": "sigv4-check"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
