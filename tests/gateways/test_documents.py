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
