"""Test support: a local HTTP server standing in for a Slack incoming webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer


@dataclass
class Webhook:
    """The webhook's URL, the status it answers with and every request it received."""

    url: str
    status: int = 200
    requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        """The ``text`` of every message received, in order."""
        return [str(request["payload"]["text"]) for request in self.requests]  # type: ignore[index]

    def connection(self) -> str:
        """An ``AIRFLOW_CONN_*`` value: a Slack incoming-webhook Connection for this URL."""
        return json.dumps({"conn_type": "slackwebhook", "password": self.url})


@contextmanager
def slack_webhook(path: str = "/services/T0/B0/hook") -> Generator[Webhook, None, None]:
    """Serve a webhook on a free local port until the block ends."""
    webhook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            webhook.requests.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "body": body,
                    "payload": json.loads(body),
                }
            )
            self.send_response(webhook.status)
            self.end_headers()
            self.wfile.write(b"ok" if webhook.status == 200 else b"invalid_token")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    webhook.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield webhook
    finally:
        server.shutdown()
        server.server_close()
