"""deploy/nginx/alerts.conf in front of a live `alerts serve`: Debian's nginx, real TLS.

The site file is used as shipped, with only its ports, certificate paths and webroot changed
(each replacement must match the file exactly once), inside the parts of Debian's nginx.conf
it depends on. Skipped where /usr/sbin/nginx (apt-get install nginx-light) or
/usr/bin/openssl is missing, unless ALERTS_REQUIRE_NGINX=1 (CI), where that fails.
"""

from __future__ import annotations

import gzip
import http.client
import os
import pwd
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

import pytest

from alerts.config import Settings
from tests.support.paths import REPO
from tests.support.processes import clean_env, free_port, start_cli, stop, wait_until
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed

NGINX = "/usr/sbin/nginx"
OPENSSL = "/usr/bin/openssl"
SITE = REPO / "deploy" / "nginx" / "alerts.conf"
HOST = urlsplit(PUBLIC).hostname or ""  # the host Twilio and residents call
OUTSIDE = "203.0.113.7"  # a client on the internet (TEST-NET-3)
# The parts of Debian's /etc/nginx/nginx.conf the site relies on or meets (its TLS
# defaults, gzip on), with this run's files; the site is included as Debian includes it.
MAIN_CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 64;
}}
http {{
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    gzip on;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/alerts.conf;
}}
"""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Proxy:
    """A running nginx with the site: its ports and the certificate clients trust."""

    https_port: int
    http_port: int
    tls: ssl.SSLContext
    webroot: Path

    def https(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        """A request through TLS, naming the public host, as Twilio or a browser makes it."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.tls, timeout=10
        )
        return _exchange(connection, method, path, headers, body)

    def http(self, path: str) -> Reply:
        """A plain-HTTP GET naming the public host."""
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        return _exchange(connection, "GET", path, None, b"")


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None,
    body: bytes,
) -> Reply:
    try:
        connection.request(method, path, body or None, {"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def _missing() -> str | None:
    if not os.access(NGINX, os.X_OK):
        return f"no nginx at {NGINX} (apt-get install nginx-light)"
    if not os.access(OPENSSL, os.X_OK):
        return f"no openssl at {OPENSSL} (apt-get install openssl)"
    return None


def _require_nginx() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("ALERTS_REQUIRE_NGINX") == "1":
            pytest.fail(f"ALERTS_REQUIRE_NGINX=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for HOST and 127.0.0.1, and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
            "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def site_for(upstream_port: int, https_port: int, http_port: int, folder: Path) -> str:
    """The shipped site with this run's ports, certificate and webroot, nothing else."""
    cert, key = _certificate(folder)
    text = SITE.read_text(encoding="utf-8")
    for shipped, here in (
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("/etc/ssl/certs/alerts.example.ca.pem", str(cert)),
        ("/etc/ssl/private/alerts.example.ca.key", str(key)),
        ("root /var/www/letsencrypt;", f"root {folder / 'webroot'};"),
    ):
        assert text.count(shipped) == 1, f"{SITE.name} no longer has {shipped!r} once"
        text = text.replace(shipped, here)
    return text


class Nginxes:
    """Debian's nginx run as this user, in the foreground, with the site before a port."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, upstream_port: int) -> Proxy:
        """A new nginx on free ports proxying to 127.0.0.1:upstream_port, once it listens."""
        prefix = self._tmp.mktemp("nginx")
        (prefix / "temp").mkdir()
        (prefix / "webroot" / ".well-known" / "acme-challenge").mkdir(parents=True)
        https_port, http_port = free_port(), free_port()
        (prefix / "alerts.conf").write_text(site_for(upstream_port, https_port, http_port, prefix))
        # As root, nginx would hand its workers to "nobody", who cannot enter pytest's folders.
        user = f"user {pwd.getpwuid(os.getuid()).pw_name};\n" if os.getuid() == 0 else ""
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(user=user, prefix=prefix))
        with (prefix / "stderr.log").open("wb") as log:
            process = subprocess.Popen(
                [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._processes.append(process)
        if not wait_until(lambda: process.poll() is not None or _listening(https_port), 10):
            pytest.fail("nginx did not start within 10 s")
        if process.poll() is not None:
            errors = (prefix / "stderr.log").read_text() + _read(prefix / "error.log")
            pytest.fail(f"nginx refused the site:\n{errors}", pytrace=False)
        tls = ssl.create_default_context(cafile=str(prefix / "cert.pem"))
        return Proxy(https_port, http_port, tls, prefix / "webroot")

    def stop_all(self) -> None:
        """Stop every nginx started (SIGTERM: nginx's fast shutdown)."""
        for process in self._processes:
            stop(process, timeout=10)


@pytest.fixture(scope="module")
def nginx_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginxes]:
    """Starts nginx with the site in front of a port; stops every one it started."""
    _require_nginx()
    started = Nginxes(tmp_path_factory)
    yield started
    started.stop_all()


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _direct(app_port: int, method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    """A request straight to the app, from this machine (as a local Prometheus or a proxy)."""
    connection = http.client.HTTPConnection("127.0.0.1", app_port, timeout=10)
    return _exchange(connection, method, path, headers, b"")


@pytest.fixture(scope="module")
def app_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A live `alerts serve` on a free port: the demo town's zones, the webhook's token and
    public address, SQLite."""
    _require_nginx()  # before the few seconds the app takes
    from alerts.demo.run import DEMO_LAYER
    from alerts.places.layers import import_zones
    from alerts.wiring import build

    folder = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{folder / 'alerts.db'}"
    services = build(Settings().with_overrides(**{"database.url": url}))
    import_zones(services, str(DEMO_LAYER))
    services.close()
    env = clean_env(
        ("ALERTS_", "TWILIO_"),
        ALERTS_DATABASE_URL=url,
        ALERTS_GATEWAY="file",
        ALERTS_GATEWAY_FILE=str(folder / "outbox.jsonl"),
        ALERTS_PUBLIC_URL=PUBLIC,
        TWILIO_AUTH_TOKEN=TOKEN,
    )
    port = free_port()
    process = start_cli(env, folder, "serve", "--port", str(port), log=folder / "serve.log")
    try:
        if not wait_until(lambda: process.poll() is not None or _listening(port), 30):
            pytest.fail("alerts serve did not listen within 30 s")
        assert process.poll() is None, (folder / "serve.log").read_text()
        yield port
    finally:
        stop(process)


@pytest.fixture(scope="module")
def proxy(nginx_in: Nginxes, app_port: int) -> Proxy:
    """nginx with the shipped site in front of the live app."""
    return nginx_in.start(app_port)


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_webhook_signed_for_the_public_address_passes_through_the_proxy(proxy: Proxy) -> None:
    fields = inbound_fields("AIDE")
    answer = proxy.https(
        "POST", "/sms/inbound", {**FORM, **signed("/sms/inbound", fields)}, _form(fields)
    )
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("application/xml")
    assert b"<Message>" in answer.body and b"311" in answer.body  # the help reply


@pytest.mark.parametrize(
    "signed_for",
    ["http://127.0.0.1:{app_port}/sms/inbound", "https://alerts.example.net/sms/inbound"],
    ids=["the-address-the-app-sees", "another-host"],
)
def test_a_webhook_signed_for_another_address_is_refused(
    proxy: Proxy, app_port: int, signed_for: str
) -> None:
    from twilio.request_validator import RequestValidator

    fields = inbound_fields("AIDE")
    url = signed_for.format(app_port=app_port)
    signature = RequestValidator(TOKEN).compute_signature(url, fields)
    answer = proxy.https(
        "POST", "/sms/inbound", {**FORM, "X-Twilio-Signature": signature}, _form(fields)
    )
    assert answer.status == 403
    assert answer.body == b"forbidden\n"  # the app's refusal: the request got through


@pytest.mark.parametrize("path", ["/metrics", "//metrics", "/%6Detrics", "/metrics?x=1"])
def test_metrics_are_closed_to_the_outside(proxy: Proxy, path: str) -> None:
    answer = proxy.https("GET", path)
    assert answer.status == 403
    assert b"alerts_" not in answer.body


def test_the_app_sees_the_client_the_proxy_names_not_the_proxy(app_port: int) -> None:
    # What nginx sends for an outside client, and for one that claims to be local: the
    # app takes the address nginx added, so /metrics stays closed even without nginx's deny.
    assert _direct(app_port, "GET", "/metrics").status == 200  # a Prometheus on this machine
    forwarded = _direct(app_port, "GET", "/metrics", {"X-Forwarded-For": OUTSIDE})
    assert forwarded.status == 403
    spoofed = _direct(app_port, "GET", "/metrics", {"X-Forwarded-For": f"127.0.0.1, {OUTSIDE}"})
    assert spoofed.status == 403


def test_conditional_feed_requests_get_304_through_the_proxy(proxy: Proxy, app_port: int) -> None:
    first = proxy.https("GET", "/alerts.atom")
    assert first.status == 200 and first.body.startswith(b"<?xml")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag == _direct(app_port, "GET", "/alerts.atom").headers["etag"]  # untouched
    assert "max-age=" in first.headers["strict-transport-security"]
    again = proxy.https("GET", "/alerts.atom", {"If-None-Match": etag})
    assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag)
    since = proxy.https("GET", "/alerts.atom", {"If-Modified-Since": last_modified})
    assert since.status == 304
    assert proxy.https("GET", "/alerts.atom", {"If-None-Match": '"other"'}).status == 200


def test_compressed_feeds_keep_their_validators(proxy: Proxy) -> None:
    first = proxy.https("GET", "/zones.geojson", {"Accept-Encoding": "gzip"})
    assert first.status == 200 and first.headers["content-encoding"] == "gzip"
    assert gzip.decompress(first.body).startswith(b'{"type":"FeatureCollection"')
    etag = first.headers["etag"]
    assert etag.startswith('W/"')  # nginx weakens the ETag of what it compresses
    again = proxy.https("GET", "/zones.geojson", {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status == 304


def test_a_body_over_64_kb_is_refused_by_the_proxy(proxy: Proxy) -> None:
    fields = inbound_fields("x" * 200_000)
    answer = proxy.https(
        "POST", "/sms/inbound", {**FORM, **signed("/sms/inbound", fields)}, _form(fields)
    )
    assert answer.status == 413
    assert b"<center>nginx</center>" in answer.body  # refused by nginx: the app never read it
    # Just under the cap, the request reaches the app (refused there: the signature is bad).
    near = proxy.https(
        "POST", "/sms/inbound", {**FORM, "X-Twilio-Signature": "x"}, b"Body=" + b"x" * 60_000
    )
    assert (near.status, near.body) == (403, b"forbidden\n")


def test_plain_http_redirects_to_https_except_certificate_renewals(proxy: Proxy) -> None:
    moved = proxy.http("/alerts.atom?lang=en")
    assert moved.status == 301
    assert moved.headers["location"] == f"https://{HOST}/alerts.atom?lang=en"
    (proxy.webroot / ".well-known" / "acme-challenge" / "token").write_text("proof")
    challenge = proxy.http("/.well-known/acme-challenge/token")
    assert (challenge.status, challenge.body) == (200, b"proof")


class _Recorder(BaseHTTPRequestHandler):
    """An upstream that answers every request and keeps its headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_proxy_tells_the_app_the_host_scheme_and_client(nginx_in: Nginxes) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = nginx_in.start(server.server_address[1])
        assert proxy.https("GET", "/", {"X-Forwarded-For": OUTSIDE}).status == 200
    finally:
        server.shutdown()
        server.server_close()
    (headers,) = _Recorder.seen
    assert headers["host"] == HOST
    assert headers["x-forwarded-proto"] == "https"
    # nginx appends the address it saw to the client's own claim; the app takes the last
    # address that is not one of its trusted proxies (web.forwarded_allow_ips).
    assert headers["x-forwarded-for"] == f"{OUTSIDE}, 127.0.0.1"
