"""Zone names are data, not markup: `alerts zones import`, `list` and `locate` print them
literally (console markup, :emoji: codes), an import strips their control characters (which
break XML feeds and terminals), and names already stored with them still print as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box, mapping

from cli import main
from tests.commands.conftest import cli_workspace
from tests.support import hostile

# Names as a layer file gives them, and as they are stored once imported.
HOSTILE = {
    hostile.MARKUP: hostile.MARKUP,
    hostile.CLOSING: hostile.CLOSING,
    "[bold]Gras[/bold]": "[bold]Gras[/bold]",
    ":warning: Sud": ":warning: Sud",
    hostile.BELL: "Évil Nord",
    hostile.ESCAPE: "Évil[2J Nord",
    hostile.NUL: "ÉvilNord",  # on PostgreSQL too: the import strips what it cannot hold
    "Tab\there\u0085\u009b": "Tab here",  # C1: NEL is a line break, CSI a terminal command
}
_CONTROL = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


def _square(n: int) -> dict[str, Any]:
    return mapping(box(-71.40 + 0.01 * n, 47.03, -71.391 + 0.01 * n, 47.04))


@pytest.fixture
def cli_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    cli_workspace(monkeypatch, tmp_path, database_url, demo_town=False)
    return database_url


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return captured.out


def test_a_layer_of_hostile_names_imports_and_lists_literally(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = [
        {"type": "Feature", "properties": {"NOM": name}, "geometry": _square(n)}
        for n, name in enumerate(HOSTILE)
    ]
    flat = {"type": "Polygon", "coordinates": [[[-71.2, 46.8], [-71.1, 46.8], [-71.2, 46.8]]]}
    features.append({"type": "Feature", "properties": {"NOM": "[/]Plat"}, "geometry": flat})
    layer = tmp_path / "hostile.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    imported = _run(capsys, "zones", "import", str(layer))
    assert "feature 9 ('[/]Plat') has no area after repair" in imported  # a warning, literal
    assert f"{len(HOSTILE)} zone(s) imported" in imported

    stored = [zone["name"] for zone in json.loads(_run(capsys, "zones", "list", "--json"))]
    assert stored == list(HOSTILE.values())
    assert not any(set(name) & _CONTROL for name in stored)

    listed = _run(capsys, "zones", "list")
    for name in HOSTILE.values():
        assert name in listed, name
    assert "⚠" not in listed  # :warning: stays a word

    # `zones locate` names the zone a point, an address or a name falls in: literally.
    assert hostile.MARKUP in _run(capsys, "zones", "locate", "47.035", "-71.395")
    ambiguous = _run(capsys, "zones", "locate", "--address", "nord")
    assert "Ambiguous:" in ambiguous and "Évil[2J Nord" in ambiguous


@pytest.mark.parametrize("name", [hostile.MARKUP, hostile.CLOSING, hostile.ESCAPE, hostile.NUL])
def test_names_already_stored_with_markup_or_controls_print_as_text(
    cli_db: str, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    from alerts.demo.run import DEMO_LAYER

    if name not in hostile.names_for(cli_db):
        pytest.skip("PostgreSQL text cannot hold NUL")
    _run(capsys, "zones", "import", str(DEMO_LAYER))
    hostile.rename_zone(cli_db, "Côte-Blanche", name)
    shown = "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in name)
    listed = _run(capsys, "zones", "list")
    assert shown in listed and "\x1b" not in listed and "\x00" not in listed
    located = _run(capsys, "zones", "locate", "47.0395", "-71.3220")
    assert located.startswith(shown)
