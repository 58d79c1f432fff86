"""Usage errors exit 2 everywhere: an option value that cannot be read (a topic, a language,
a time, coordinates, a field the file lacks) is the operator's typing, not bad data; phone
errors say what form is expected; text where LAT is expected suggests --address."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
from cli import main
from tests.commands.conftest import cli_workspace

FUTURE = ["--start", "2031-12-03 19:00", "--end", "2031-12-04 07:00"]
SEND = ["send", "--zone", "Lac-Doré", "--message", "Test", "--yes"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own SQLite database, demo town imported, one subscriber."""
    cli_workspace(monkeypatch, tmp_path, file_gateway="outbox.jsonl")
    assert main(["subscribers", "add", "4185550100", "--zone", "Lac-Doré"]) == 0
    return tmp_path


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["subscribers", "add", "4185550123", "--zone", "Lac-Doré", "--topics", "hail"],
         "unknown topic 'hail'"),
        (["subscribers", "add", "4185550123", "--zone", "Lac-Doré", "--topics", ","],
         "at least one topic"),
        (["subscribers", "add", "4185550123", "--zone", "Lac-Doré", "--lang", "de"],
         "unknown language 'de'"),
        (["subscribers", "add", "4185550123", "--at", "north of here"], "is not LAT,LON"),
        (["send", "--kind", "hail", "--all", "--message", "Test"], "unknown kind 'hail'"),
        ([*SEND, "--kind", "snow", "--at", "tomorrow"], "cannot read the time"),
        ([*SEND, "--kind", "snow", "--at", "2020-01-06 10:00"], "is in the past"),
        ([*SEND, "--kind", "snow", "--every", "someday"], "cannot read the schedule"),
        (["send", "--kind", "snow", "--near", "here", "--radius", "100", "--message", "Test"],
         "is not LAT,LON"),
        (["send", "--kind", "snow", "--zone", "Lac-Doré", "--template", "snow", "--var",
          "date=2031-13-45", "--dry-run"], "looks like a date"),
        (["send", "--kind", "snow", "--zone", "Lac-Doré", "--var", "date.de=x", "--message",
          "x", "--dry-run"], "--var takes"),
        (["operations", "add", "--kind", "hail", "--zone", "Lac-Doré", *FUTURE],
         "unknown operation kind"),
        (["operations", "add", "--kind", "snow", "--zone", "Lac-Doré",
          "--start", "2031-12-04 07:00", "--end", "2031-12-03 19:00"], "end after it starts"),
        (["operations", "add", "--kind", "snow", "--zone", "Lac-Doré", *FUTURE,
          "--notice-before", "soon"], "cannot read the duration"),
        (["operations", "add", "--kind", "snow", "--zone", "Lac-Doré",
          "--start", "2031-03-09 02:30", "--end", "2031-03-09 07:00"], "does not exist"),
        (["zones", "locate", "46.81"], "give LAT LON (both numbers)"),
        (["zones", "locate", "95", "-71.2"], "latitude is within ±90"),
        (["zones", "import", str(DEMO_LAYER), "--replace", "--name-field", "NOPE"],
         "no field 'NOPE'"),
        (["zones", "import", str(DEMO_LAYER), "--replace", "--crs", "EPSG:999999"],
         "--crs: unknown coordinate system"),
        (["addresses", "import", str(DEMO_ADDRESSES), "--number-field", "NOPE"],
         "no column 'NOPE'"),
    ],
)  # fmt: skip
def test_option_values_that_cannot_be_read_exit_2_on_one_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    capsys.readouterr()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert said in captured.err
    assert "Traceback" not in captured.err
    assert not (cli_env / "outbox.jsonl").exists()  # nothing went out


def test_phone_errors_say_the_form_expected(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for phone in ("123", "hello", "+33 1 42 68 53 00"):
        assert main(["subscribers", "add", phone, "--zone", "Lac-Doré"]) == 1  # data, not usage
        err = capsys.readouterr().err
        assert repr(phone) in err
        assert "expected a North American number such as +1 418 555 0123 or 418-555-0123" in err


def test_text_where_lat_is_expected_suggests_address(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["zones", "locate", "2475 boul. Laurier"]) == 2
    err = capsys.readouterr().err
    assert "'2475 boul. Laurier' is not LAT LON" in err
    assert 'use --address "2475 boul. Laurier"' in err
    # Unquoted, the words arrive one by one: the suggestion joins them again.
    assert main(["zones", "locate", "2475", "boul.", "Laurier"]) == 2
    assert 'use --address "2475 boul. Laurier"' in capsys.readouterr().err
    # Coordinates still work, a negative longitude and a LAT,LON pair alike.
    assert main(["zones", "locate", "47.0395", "-71.3220"]) == 0
    assert main(["zones", "locate", "47.0395,-71.3220"]) == 0
    assert capsys.readouterr().out.count("Côte-Blanche") == 2
