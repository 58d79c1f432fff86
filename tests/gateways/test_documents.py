"""Operators' GeoJSON documents by URL, from a real local HTTP server (no network)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from alerts.gateways.documents import fetch_json
from zones import LayerError, ZoneLayer

SQUARE_A = box(-71.30, 46.80, -71.20, 46.90)


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving tmp_path (no network involved)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_layer_from_url(local_server: str, tmp_path: Path) -> None:
    feature = {"type": "Feature", "properties": {"NOM": "A"}, "geometry": mapping(SQUARE_A)}
    collection = {"type": "FeatureCollection", "features": [feature]}
    (tmp_path / "zones.geojson").write_text(json.dumps(collection))
    document, source = fetch_json(f"{local_server}/zones.geojson")
    layer = ZoneLayer.from_geojson(document, source=source)
    assert [z.name for z in layer] == ["A"] and layer.source.endswith("/zones.geojson")


def test_url_that_fails(local_server: str) -> None:
    with pytest.raises(LayerError) as caught:
        fetch_json(f"{local_server}/missing.geojson")
    assert "HTTP 404" in caught.value.message and "missing.geojson" in caught.value.message
    assert "\n" not in caught.value.message


class _Endless(http.server.BaseHTTPRequestHandler):
    """A server that sends zeros for ever, declaring no length (or a false small one)."""

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/declared":
            self.send_header("Content-Length", str(10**12))
        self.end_headers()
        if self.path == "/declared":
            return
        try:
            while True:
                self.wfile.write(b"0" * 65536)
        except OSError:  # the client hung up: what it should do
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endless_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_that_never_ends_stops_at_the_cap(endless_server: str) -> None:
    with pytest.raises(LayerError) as caught:
        fetch_json(f"{endless_server}/zeros", max_bytes=1_000_000)
    assert "larger than 1,000,000 bytes" in caught.value.message
    assert "zones.max_layer_bytes" in caught.value.message and "\n" not in caught.value.message


def test_a_download_declared_past_the_cap_is_not_read(endless_server: str) -> None:
    with pytest.raises(LayerError, match="larger than 1,000 bytes"):
        fetch_json(f"{endless_server}/declared", max_bytes=1_000)


def test_a_served_file_past_the_cap(local_server: str, tmp_path: Path) -> None:
    (tmp_path / "big.geojson").write_bytes(b" " * 2_001)
    with pytest.raises(LayerError, match=r"big\.geojson: larger than 2,000 bytes"):
        fetch_json(f"{local_server}/big.geojson", max_bytes=2_000)
    (tmp_path / "fits.geojson").write_text("{}" + " " * 1_998)
    assert fetch_json(f"{local_server}/fits.geojson", max_bytes=2_000)[0] == {}


@pytest.mark.parametrize("where", ["file", "url"])
def test_deep_nesting_is_a_layer_error(local_server: str, tmp_path: Path, where: str) -> None:
    (tmp_path / "nested.geojson").write_text("[" * 100_000)
    source = (
        f"{local_server}/nested.geojson" if where == "url" else str(tmp_path / "nested.geojson")
    )
    with pytest.raises(LayerError, match="nested too deeply"):
        fetch_json(source)
