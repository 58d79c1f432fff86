"""The Twilio gateway through a city's outbound proxy: HTTPS_PROXY, HTTP_PROXY, NO_PROXY,
against a real local forward proxy in front of the fake Twilio."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from alerts.config import load_settings
from alerts.gateways.gateway import ErrorKind, GatewayError, OutgoingSms, SendReceipt
from alerts.gateways.twilio_gateway import PROXY_AUTH_CODE, TwilioGateway
from alerts.outbox.send_outcomes import is_systemic
from alerts.wiring import gateway_from_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.forward_proxy import ForwardProxy
from tests.support.gateways import send_now
from tests.support.paths import REPO
from tests.support.processes import clean_env, free_port

SENDER = "+15005550006"
TO = "+14185550123"
# A password with the characters a URL must escape: it reaches the proxy intact.
USER, PASSWORD = "alerts", "p@ss:w/rd%1"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    """A forward proxy asking for no credentials."""
    with ForwardProxy() as server:
        yield server


@pytest.fixture
def guarded_proxy() -> Iterator[ForwardProxy]:
    """A forward proxy asking for USER and PASSWORD."""
    with ForwardProxy(credentials=(USER, PASSWORD)) as server:
        yield server


def _twilio_env(fake: FakeTwilio, base_url: str | None = None, **proxy: str) -> dict[str, str]:
    return {
        "ALERTS_GATEWAY": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "ALERTS_TWILIO_FROM": SENDER,
        "ALERTS_TWILIO_API_BASE_URL": base_url or fake.base_url,
        **proxy,
    }


def _gateway(env: dict[str, str], tmp_path: Path) -> TwilioGateway:
    """The gateway `alerts` builds from this environment (and nothing else)."""
    gateway = gateway_from_settings(load_settings(env=env, cwd=tmp_path))
    assert isinstance(gateway, TwilioGateway)
    return gateway


def _send_and_look_up(gateway: TwilioGateway) -> tuple[SendReceipt, SendReceipt | None]:
    """A send, then the reconciliation's look-up of it in the message log, on one loop."""

    async def both() -> tuple[SendReceipt, SendReceipt | None]:
        try:
            since = datetime.now(UTC) - timedelta(minutes=1)
            sent = await gateway.send(OutgoingSms(TO, "Déneigement ce soir"))
            return sent, await gateway.find_sent(TO, "Déneigement ce soir", since)
        finally:
            await gateway.aclose()

    return asyncio.run(both())


def test_sends_and_log_look_ups_go_through_http_proxy(
    fake: FakeTwilio, proxy: ForwardProxy, tmp_path: Path
) -> None:
    gateway = _gateway(_twilio_env(fake, HTTP_PROXY=proxy.url()), tmp_path)
    sent, found = _send_and_look_up(gateway)

    assert found is not None and found.provider_id == sent.provider_id
    messages = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert [(r.method, r.target.split("?")[0]) for r in proxy.requests] == [
        ("POST", messages),
        ("GET", messages),
    ]
    assert "To=%2B14185550123" in proxy.requests[1].target
    # Both reached Twilio, still authenticated, and only through the proxy.
    assert [r.method for r in fake.requests] == ["POST", "GET"]
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in fake.requests)
    assert all("Proxy-Authorization" not in r.headers for r in fake.requests)


@pytest.mark.parametrize(
    "no_proxy",
    ["127.0.0.1", "127.0.0.0/8", "api.twilio.com, 127.0.0.1:{port}", "*"],
)
def test_no_proxy_hosts_are_reached_directly(
    fake: FakeTwilio, proxy: ForwardProxy, tmp_path: Path, no_proxy: str
) -> None:
    port = fake.base_url.rsplit(":", 1)[1]
    env = _twilio_env(fake, HTTP_PROXY=proxy.url(), NO_PROXY=no_proxy.format(port=port))
    sent, found = _send_and_look_up(_gateway(env, tmp_path))

    assert found is not None and found.provider_id == sent.provider_id
    assert proxy.requests == []
    assert [r.method for r in fake.requests] == ["POST", "GET"]


def test_no_proxy_for_another_port_or_host_still_uses_the_proxy(
    fake: FakeTwilio, proxy: ForwardProxy, tmp_path: Path
) -> None:
    env = _twilio_env(
        fake, http_proxy=proxy.url(), no_proxy="127.0.0.1:1,localhost,10.0.0.0/8,.city.ca"
    )
    send_now(_gateway(env, tmp_path), OutgoingSms(TO, "Avis"))
    assert [r.method for r in proxy.requests] == ["POST"]
    assert len(fake.messages) == 1


def test_the_lower_case_variables_win(
    fake: FakeTwilio, proxy: ForwardProxy, tmp_path: Path
) -> None:
    unused = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = _twilio_env(fake, HTTP_PROXY=unused, http_proxy=proxy.url())
    send_now(_gateway(env, tmp_path), OutgoingSms(TO, "Avis"))
    assert len(proxy.requests) == 1 and len(fake.messages) == 1


def test_proxy_credentials_from_the_url_are_sent_to_the_proxy_only(
    fake: FakeTwilio, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    url = guarded_proxy.url(USER, quote(PASSWORD, safe=""))
    send_now(_gateway(_twilio_env(fake, HTTP_PROXY=url), tmp_path), OutgoingSms(TO, "Avis"))

    [carried] = guarded_proxy.requests
    assert carried.authorised
    assert len(fake.messages) == 1
    assert "Proxy-Authorization" not in fake.requests[0].headers


def test_wrong_proxy_credentials_stop_the_worker_without_showing_them(
    fake: FakeTwilio, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    url = guarded_proxy.url(USER, "wrong-secret")
    gateway = _gateway(_twilio_env(fake, HTTP_PROXY=url), tmp_path)
    with pytest.raises(GatewayError) as caught:
        send_now(gateway, OutgoingSms(TO, "Avis"))

    error = caught.value
    assert error.code == PROXY_AUTH_CODE and error.http_status == 407
    assert is_systemic(error)  # every message would fail alike: the worker stops
    assert "proxy refused the credentials" in str(error)
    assert "wrong-secret" not in str(error) and fake.requests == []


def test_a_refused_tunnel_sent_nothing_and_is_retried(
    fake: FakeTwilio, proxy: ForwardProxy, tmp_path: Path
) -> None:
    # https:// goes through CONNECT; the proxy cannot reach this port (502): nothing left.
    closed = f"https://127.0.0.1:{free_port()}"
    gateway = _gateway(_twilio_env(fake, closed, HTTPS_PROXY=proxy.url()), tmp_path)
    with pytest.raises(GatewayError) as caught:
        send_now(gateway, OutgoingSms(TO, "Avis"))

    assert caught.value.code == "proxy-502" and caught.value.kind is ErrorKind.RETRYABLE
    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", closed[8:])]


def test_wrong_credentials_for_a_tunnel_stop_the_worker(
    fake: FakeTwilio, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    env = _twilio_env(
        fake, "https://api.twilio.com", HTTPS_PROXY=guarded_proxy.url(USER, "wrong-secret")
    )
    with pytest.raises(GatewayError) as caught:
        send_now(_gateway(env, tmp_path), OutgoingSms(TO, "Avis"))

    assert caught.value.code == PROXY_AUTH_CODE and is_systemic(caught.value)
    assert "wrong-secret" not in str(caught.value)
    [carried] = guarded_proxy.requests
    assert (carried.method, carried.target, carried.authorised) == (
        "CONNECT",
        "api.twilio.com:443",
        False,
    )


def test_an_unreachable_proxy_is_named(fake: FakeTwilio, tmp_path: Path) -> None:
    port = free_port()
    env = _twilio_env(fake, HTTP_PROXY=f"http://{USER}:secret@127.0.0.1:{port}")
    with pytest.raises(GatewayError) as caught:
        send_now(_gateway(env, tmp_path), OutgoingSms(TO, "Avis"))

    message = str(caught.value)
    assert f"outbound proxy 127.0.0.1:{port}" in message and "secret" not in message
    assert caught.value.kind is ErrorKind.RETRYABLE and fake.requests == []


# -- https:// through a CONNECT tunnel, in a process of its own -------------------------------

# The process trusts the test's certificate through SSL_CERT_FILE (OpenSSL reads it when
# aiohttp loads), then sends with the gateway `alerts` builds from its environment.
_SEND_ONE = textwrap.dedent(
    """
    import json
    from alerts.config import load_settings
    from alerts.gateways.gateway import GatewayError, OutgoingSms
    from alerts.wiring import gateway_from_settings
    from tests.support.gateways import send_now

    gateway = gateway_from_settings(load_settings())
    try:
        receipt = send_now(gateway, OutgoingSms("+14185550123", "Déneigement ce soir"))
        print(json.dumps({"sid": receipt.provider_id}))
    except GatewayError as exc:
        print(json.dumps({"error": str(exc), "code": exc.code}))
    """
)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        reason = "openssl is not on the PATH (apt-get install openssl): it makes the certificate"
        # CI installs it with nginx, whose test needs it too.
        if os.environ.get("ALERTS_REQUIRE_NGINX") == "1":
            pytest.fail(f"ALERTS_REQUIRE_NGINX=1 but {reason}")
        pytest.skip(reason)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def test_https_goes_through_a_connect_tunnel(guarded_proxy: ForwardProxy, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeTwilio(tls=context) as fake:
        assert fake.base_url.startswith("https://127.0.0.1:")
        address = fake.base_url.removeprefix("https://")
        env = clean_env(
            drop=("ALERTS_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                  "https_proxy", "no_proxy", "TWILIO_"),
            **_twilio_env(fake, HTTPS_PROXY=guarded_proxy.url(USER, quote(PASSWORD, safe=""))),
            SSL_CERT_FILE=str(cert),
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", _SEND_ONE],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outcome = json.loads(done.stdout)
        assert outcome.get("sid", "").startswith("SM"), outcome
        [stored] = fake.messages
        assert stored["sid"] == outcome["sid"] and stored["to"] == TO

    # The proxy saw a tunnel to Twilio's address, with the credentials, and nothing inside.
    [carried] = guarded_proxy.requests
    assert carried.method == "CONNECT" and carried.authorised
    assert carried.target == address
