"""A forward proxy such as city networks impose: a real threaded HTTP server on 127.0.0.1.

It forwards requests written with an absolute URI (`GET http://host:port/path`, what a
client sends through a proxy to an http:// address) and tunnels `CONNECT host:port` (what
it sends for https://), optionally asking for Basic credentials (407 without them), and
records every request it was asked to carry.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Headers for this hop only (RFC 9110 7.6.1), never passed on.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy was asked to carry: `CONNECT` and its `host:port`, or a method
    and its absolute URI; its headers as received; whether its credentials were right."""

    method: str
    target: str
    headers: dict[str, str]
    authorised: bool


class ForwardProxy:
    """An HTTP forward proxy on an ephemeral port of 127.0.0.1, started as a context."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self._lock = threading.Lock()
        self._seen: list[ProxiedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ForwardProxy:
        """Bind a port and serve from a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, where it listens."""
        assert self._server is not None, "ForwardProxy is not started"
        return f"127.0.0.1:{self._server.server_address[1]}"

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The proxy's URL, as HTTPS_PROXY holds it, with credentials when given."""
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"http://{userinfo}{self.address}"

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every request it was asked to carry, in arrival order."""
        with self._lock:
            return list(self._seen)

    def _record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self._seen.append(request)

    def _accepts(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: ForwardProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on tunnels and keep-alive connections by design


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_CONNECT(self) -> None:
        if not self._admitted():
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except (OSError, ValueError):
            self._refuse(502, "cannot reach the destination")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        with upstream:
            _relay(self.connection, upstream)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _admitted(self) -> bool:
        """Record the request; answer 407 when credentials are required and wrong."""
        proxy = self.server.proxy
        authorised = proxy._accepts(self.headers.get("Proxy-Authorization"))
        proxy._record(
            ProxiedRequest(self.command, self.path, dict(self.headers.items()), authorised)
        )
        if not authorised:
            self._refuse(407, "proxy credentials required", {"Proxy-Authenticate": "Basic"})
        return authorised

    def _forward(self) -> None:
        if not self._admitted():
            return
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self._refuse(400, "an absolute http:// URI is expected")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            upstream.request(self.command, path or "/", body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        except OSError:
            self._refuse(502, "the destination did not answer")
            return
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        data = reason.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 30)
        if broken or not readable:
            return
        for source in readable:
            other = upstream if source is client else client
            try:
                chunk = source.recv(65536)
                if not chunk:
                    return
                other.sendall(chunk)
            except OSError:
                return
