"""The outbound proxy of a city network: which requests go through it, and how.

HTTPS_PROXY serves https:// addresses and HTTP_PROXY http:// ones; NO_PROXY names the
hosts reached directly, as curl and Python read it: `*`, host names and domains (`city.ca`
and `.city.ca` both cover `api.city.ca`), IP addresses and networks (`10.0.0.0/8`), each
optionally with `:PORT`. Credentials in a proxy's URL (`http://USER:PASSWORD@HOST:PORT`)
leave as a Proxy-Authorization header, never in a message.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import aiohttp


@dataclass(frozen=True)
class ProxyRoute:
    """How one request reaches a proxy: its URL without credentials, and the headers for it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """`host:port` of the proxy, for messages."""
        parts = urlsplit(self.url)
        return parts.netloc


_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class _Exemption:
    """One NO_PROXY entry: `*`, or a host, domain or network, with or without a port."""

    host: str  # lower case, without dots at either end or brackets
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    everything: bool = False


class OutboundProxy:
    """The proxies for https:// and http:// addresses and the hosts exempted from them."""

    def __init__(self, https: str = "", http: str = "", no_proxy: str = "") -> None:
        self._routes = {"https": _route(https), "http": _route(http)}
        found = (_exemption(entry) for entry in no_proxy.split(","))
        self._exempt = tuple(entry for entry in found if entry.host or entry.everything)

    def __bool__(self) -> bool:
        return any(self._routes.values())

    def route(self, url: str) -> ProxyRoute | None:
        """The proxy a request to `url` goes through, or None to connect directly."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        route = self._routes.get(scheme)
        port = parts.port or _DEFAULT_PORTS.get(scheme)
        if route is None or self.exempts(parts.hostname or "", port):
            return None
        return route

    def exempts(self, host: str, port: int | None = None) -> bool:
        """Whether NO_PROXY sends requests to `host` (and `port`) around the proxy."""
        host = host.strip("[]").rstrip(".").lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for entry in self._exempt:
            if entry.port is not None and entry.port != port:
                continue
            if entry.everything:
                return True
            if entry.network is not None:  # an address or a network: never a name's suffix
                found = address is not None and address in entry.network
            else:
                found = host == entry.host or host.endswith("." + entry.host)
            if found:
                return True
        return False


def _route(proxy_url: str) -> ProxyRoute | None:
    if not proxy_url:
        return None
    parts = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    url = f"{parts.scheme}://{netloc}"
    if parts.username is None:
        return ProxyRoute(url)
    credentials = aiohttp.encode_basic_auth(unquote(parts.username), unquote(parts.password or ""))
    return ProxyRoute(url, {"Proxy-Authorization": credentials})


def _exemption(entry: str) -> _Exemption:
    entry = entry.strip().lower()
    if entry == "*":
        return _Exemption("", everything=True)
    host, port = entry, None
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif entry.count(":") == 1:  # host:port; more colons is an IPv6 address
        name, _, number = entry.partition(":")
        if number.isdigit():
            host, port = name, int(number)
    host = host.strip(".")
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    return _Exemption(host, port, network)
