"""Which requests go through the outbound proxy: HTTPS_PROXY, HTTP_PROXY and NO_PROXY as
settings read them (no network here; tests/gateways/test_twilio_proxy.py sends for real)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from alerts.config import load_settings
from alerts.errors import ConfigError
from alerts.gateways.outbound_proxy import OutboundProxy

PROXY = "http://proxy.city.ca:3128"


@pytest.mark.parametrize(
    ("no_proxy", "url", "proxied"),
    [
        ("", "https://api.twilio.com/2010-04-01", True),
        ("*", "https://api.twilio.com/2010-04-01", False),
        ("twilio.com", "https://api.twilio.com/x", False),
        (".twilio.com", "https://api.twilio.com/x", False),
        ("TWILIO.COM.", "https://api.twilio.com/x", False),
        ("twilio.com", "https://nottwilio.com/x", True),
        ("api.twilio.com:8443", "https://api.twilio.com/x", True),
        ("api.twilio.com:443", "https://api.twilio.com/x", False),
        ("10.0.0.0/8", "http://10.1.2.3:8080/x", False),
        ("10.0.0.0/8", "http://11.1.2.3:8080/x", True),
        ("::1", "http://[::1]:8080/x", False),
        ("[::1]:8080", "http://[::1]:8080/x", False),
        ("[::1]:9", "http://[::1]:8080/x", True),
        (" localhost , 127.0.0.1 ", "http://127.0.0.1:8080/x", False),
        (".", "https://api.twilio.com/x", True),  # an empty entry exempts nothing
    ],
)
def test_no_proxy_entries(no_proxy: str, url: str, proxied: bool) -> None:
    routes = OutboundProxy(https=PROXY, http=PROXY, no_proxy=no_proxy)
    assert (routes.route(url) is not None) is proxied


def test_each_scheme_has_its_own_proxy() -> None:
    routes = OutboundProxy(https=PROXY)
    assert routes and routes.route("https://api.twilio.com/x") is not None
    assert routes.route("http://127.0.0.1:8080/x") is None
    assert not OutboundProxy()


def test_credentials_become_a_header_and_leave_the_url() -> None:
    route = OutboundProxy(https="http://alerts:p%40ss@proxy.city.ca:3128").route(
        "https://api.twilio.com/x"
    )
    assert route is not None
    assert route.url == PROXY and route.where == "proxy.city.ca:3128"
    expected = base64.b64encode(b"alerts:p@ss").decode()
    assert route.headers == {"Proxy-Authorization": f"Basic {expected}"}


def test_settings_read_the_proxy_variables(tmp_path: Path) -> None:
    env = {"HTTPS_PROXY": "proxy.city.ca:3128", "no_proxy": "127.0.0.1", "NO_PROXY": "*"}
    twilio = load_settings(env=env, cwd=tmp_path).twilio
    assert twilio.https_proxy == PROXY  # HOST:PORT alone is an http:// proxy
    assert twilio.no_proxy == "127.0.0.1"  # the lower-case name wins
    config = tmp_path / "alerts.toml"
    config.write_text(f'[twilio]\nhttps_proxy = "{PROXY}"\n')
    assert load_settings(config, env={}).twilio.https_proxy == PROXY


@pytest.mark.parametrize(
    "value", ["socks5://alerts:hunter2@proxy:1080", "http://alerts:hunter2@proxy:port"]
)
def test_a_bad_proxy_names_the_variable_and_hides_the_password(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HTTPS_PROXY": value}, cwd=tmp_path)
    message = str(caught.value)
    assert "twilio.https_proxy" in message and "(from HTTPS_PROXY)" in message
    assert "hunter2" not in message and "alerts:" not in message
