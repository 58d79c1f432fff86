"""`alerts zones import --replace` through the CLI, on SQLite and PostgreSQL: a preview with
--dry-run, a question before subscriptions are left without a zone (refused without a
terminal unless --yes), the same counts in --json, and no ghost zones on a re-import."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.processes import CLI, answer_on_terminal, file_gateway_env

CÔTE = "47.0395,-71.3220"  # a point in Côte-Blanche
ZONES = 10  # in the demo town


def _layer(path: Path, zones: list[tuple[str, BaseGeometry]]) -> str:
    features = [
        {"type": "Feature", "properties": {"NOM": name}, "geometry": mapping(geometry)}
        for name, geometry in zones
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder on the test database: the demo zones, one subscriber by zone name
    and one by a point."""
    cli_workspace(monkeypatch, tmp_path, database_url)
    assert main(["subscribers", "add", "4185550101", "--zone", "lac dore"]) == 0
    assert main(["subscribers", "add", "4185550102", "--at", CÔTE]) == 0
    return database_url


@pytest.fixture
def wrong_layer(tmp_path: Path) -> str:
    """A layer of somewhere else, imported by mistake."""
    return _layer(tmp_path / "elsewhere.geojson", [("Ailleurs", box(-10.0, 40.0, -9.9, 40.1))])


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _state(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], list[str], list[str]]:
    zones = [zone["name"] for zone in _json(capsys, "zones", "list", "--json")]
    first = _json(capsys, "subscribers", "show", "4185550101", "--json")["zones"]
    second = _json(capsys, "subscribers", "show", "4185550102", "--json")["zones"]
    return zones, first, second


def test_dry_run_previews_the_replace_and_changes_nothing(
    town: str, wrong_layer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _state(capsys)
    assert before[1:] == (["Lac-Doré"], ["Côte-Blanche"])
    preview = _json(capsys, "zones", "import", wrong_layer, "--replace", "--dry-run", "--json")
    assert preview["dry_run"] is True
    assert preview["zones"] == {
        "added": 1, "removed": ZONES, "renamed": 0, "reshaped": 0, "unchanged": 0,
    }  # fmt: skip
    moves = preview["subscriptions"]
    assert (moves["unlinked"], moves["without_zone"], moves["subscribers_unlinked"]) == (2, 2, 2)
    assert (moves["orphaned"], moves["outside"]) == (1, 1)
    assert _state(capsys) == before
    assert main(["zones", "import", wrong_layer, "--replace", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 added, 10 removed, 0 renamed" in out and "2 newly without a zone" in out
    assert "Dry run: nothing changed." in out
    assert _state(capsys) == before


def test_without_a_terminal_a_replace_leaving_subscriptions_without_a_zone_is_refused(
    town: str, wrong_layer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _state(capsys)
    refused = subprocess.run(
        [*CLI, "zones", "import", wrong_layer, "--replace"],
        env=file_gateway_env(town, tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert "2 subscription(s) of 2 subscriber(s) without a zone" in refused.stderr
    assert "--yes" in refused.stderr
    assert _state(capsys) == before


@pytest.mark.parametrize(("answer", "code"), [(b"n\n", 1), (b"y\n", 0)])
def test_on_a_terminal_the_operator_is_asked(
    town: str,
    wrong_layer: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    answer: bytes,
    code: int,
) -> None:
    capsys.readouterr()
    before = _state(capsys)
    env = file_gateway_env(town, tmp_path)
    asked = answer_on_terminal(env, tmp_path, answer, "zones", "import", wrong_layer, "--replace")
    out, err = asked.stdout, asked.stderr
    assert asked.returncode == code, err
    assert "leaving 2 subscription(s) of 2 subscriber(s) without a zone?" in err
    assert "2 newly without a zone" in out  # the preview came first
    after = _state(capsys)
    if code:
        assert after == before
    else:
        assert after == (["Ailleurs"], [], [])


def test_yes_replaces_and_the_right_layer_links_them_back(
    town: str, wrong_layer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.demo.run import DEMO_LAYER

    capsys.readouterr()
    before = _state(capsys)
    wrong = _json(capsys, "zones", "import", wrong_layer, "--replace", "--yes", "--json")
    assert "dry_run" not in wrong
    assert wrong["subscriptions"]["unlinked"] == 2
    assert _state(capsys) == (["Ailleurs"], [], [])
    # Putting the right layer back leaves nobody without a zone: no question, no --yes.
    back = _json(capsys, "zones", "import", str(DEMO_LAYER), "--replace", "--json")
    moves = back["subscriptions"]
    assert (moves["relinked"], moves["moved"], moves["without_zone"]) == (1, 1, 0)
    assert back["zones"]["added"] == ZONES and back["zones"]["removed"] == 1
    assert _state(capsys) == before


def test_reimporting_a_layer_whose_names_repeat_keeps_its_zones(
    town: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repeated = _layer(
        tmp_path / "repeated.geojson",
        [("Centre", box(-71.40 + 0.02 * n, 47.03, -71.39 + 0.02 * n, 47.04)) for n in range(4)]
        + [("Nord", box(-71.40, 47.05, -71.30, 47.08))],
    )
    _json(capsys, "zones", "import", repeated, "--replace", "--yes", "--json")
    first = _json(capsys, "zones", "list", "--json")
    assert len(first) == 5
    for _ in range(2):
        again = _json(capsys, "zones", "import", repeated, "--replace", "--json")
        assert again["zones"] == {
            "added": 0, "removed": 0, "renamed": 0, "reshaped": 0, "unchanged": 5,
        }  # fmt: skip
        assert _json(capsys, "zones", "list", "--json") == first
