"""`marea console`: serve the forwarder until Ctrl-C, saying where to point the browser."""

from __future__ import annotations

from marea_cli.client import ApiClient
from marea_cli.proxy import make_server


def serve(client: ApiClient, port: int) -> int:
    server = make_server(client, port)
    where = client.endpoint.url + (" (SigV4-signed with your AWS credentials)" if client.endpoint.signed else "")
    print(f"console: http://127.0.0.1:{server.server_port}/console -> {where}; Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nconsole: stopped", flush=True)
    finally:
        server.server_close()
    return 0
