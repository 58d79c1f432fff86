"""Layer and address files are read within bounds: /dev/zero, a file too big or JSON nested
100,000 deep end in one line on stderr and a non-zero exit, never a traceback or a process
the kernel has to kill."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import Settings
from cli import main
from tests.commands.conftest import cli_workspace

CAP = 1_000_000


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own database and a config capping layers at 1 MB."""
    return cli_workspace(
        monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'alerts.db'}",
        config=f"[zones]\nmax_layer_bytes = {CAP}\n", demo_town=False,
    )  # fmt: skip


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 1, (code, captured.err)
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "internal error" not in captured.err
    return captured.err


def test_the_default_cap_is_200_mb() -> None:
    assert Settings().zones.max_layer_bytes == 200_000_000


def test_dev_zero_stops_at_the_cap(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(capsys, "zones", "import", "/dev/zero")
    assert "/dev/zero: larger than 1,000,000 bytes" in err and "zones.max_layer_bytes" in err


def test_a_layer_file_past_the_cap(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = folder / "big.geojson"
    big.write_bytes(b" " * (CAP + 1))
    assert "larger than 1,000,000 bytes" in _fails(capsys, "zones", "import", str(big))


def test_json_nested_100000_deep(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = folder / "nested.geojson"
    nested.write_text("[" * 100_000)
    err = _fails(capsys, "zones", "import", str(nested))
    assert "nested.geojson" in err and "nested too deeply" in err


def test_an_integer_python_will_not_convert(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = folder / "huge.geojson"
    huge.write_text('{"type": "FeatureCollection", "features": [' + "9" * 5000 + "]}")
    assert "not valid JSON" in _fails(capsys, "zones", "import", str(huge))


def test_address_points_are_bounded_too(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not a regular file" in _fails(capsys, "addresses", "import", "/dev/zero")
    big = folder / "addresses.csv"
    big.write_text("NO_CIVIQUE,RUE,lon,lat\n" + "1,Rue A,-71.2,46.8\n" * 60_000)
    assert "larger than 1,000,000 bytes" in _fails(capsys, "addresses", "import", str(big))


def test_a_locate_batch_without_line_breaks(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.demo.run import DEMO_LAYER

    assert main(["zones", "import", str(DEMO_LAYER)]) == 0
    capsys.readouterr()
    assert "line 1: longer than" in _fails(capsys, "zones", "locate", "--batch", "/dev/zero")
