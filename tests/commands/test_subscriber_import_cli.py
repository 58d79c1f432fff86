"""`alerts subscribers import` takes spreadsheets as operators have them: French Excel files
(semicolons, Windows-1252, French headers), UTF-8 with a BOM, every bad row named at once,
--skip-invalid and an --errors file that, corrected, imports again."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace

# A French Excel export: semicolons, Windows-1252, French headers, decimal commas, rows shorter
# than the header, a blank row; lines 4 to 8 are bad, each for its own reason.
FRENCH_ROWS = [
    "Téléphone;Quartier;Langue;Sujets;Lat;Lon",
    "418 555 0101;Lac-Doré;français;neige",  # line 2
    "4185550102;Saint-Éloi;anglais;neige|radar;;",  # line 3
    "12;Lac-Doré;fr;neige;;",  # line 4: not a phone number
    "4185550103;Narnia;fr;;;",  # line 5: no such zone
    "4185550105;Lac-Doré;allemand;;;",  # line 6: unknown language
    "4185550106;Lac-Doré;fr;grêle;;",  # line 7: unknown topic
    "4185550107;;fr;;45,5;-73,5",  # line 8: outside every zone
    "4185550104;;;radar;47,0395;-71,3220",  # line 9: a point in Côte-Blanche
    ";;;;;",
]
BAD_LINES = [4, 5, 6, 7, 8]
GOOD = {"+14185550101", "+14185550102", "+14185550104"}


@pytest.fixture
def cli_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder on the test database, with the demo town's zones."""
    cli_workspace(monkeypatch, tmp_path, database_url)
    return database_url


@pytest.fixture
def french_file(tmp_path: Path) -> Path:
    path = tmp_path / "abonnés.csv"
    path.write_bytes("\r\n".join(FRENCH_ROWS).encode("cp1252") + b"\r\n")
    return path


def _phones(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["subscribers", "list", "--all", "--include-phones", "--json"]) == 0
    return {row["phone"]: row for row in json.loads(capsys.readouterr().out)}


def test_a_french_excel_file_with_bad_rows_is_refused_whole_naming_each(
    cli_db: str, french_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["subscribers", "import", str(french_file)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "5 bad row(s), nothing imported" in captured.err
    for line in BAD_LINES:
        assert f"line {line}:" in captured.err
        assert f"\n{line:>4}  " in captured.out or f"\n   {line}  " in captured.out
    assert "expected a North American number such as +1 418 555 0123" in captured.err
    assert "no zone named 'Narnia'" in captured.out
    assert "unknown language 'allemand'" in captured.out
    assert "unknown topic 'grêle'" in captured.out
    assert "45.5,-73.5 lies outside every zone" in captured.out
    assert _phones(capsys) == {}

    assert main(["subscribers", "import", str(french_file), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["imported"] is False
    assert (document["encoding"], document["delimiter"]) == ("windows-1252", ";")
    assert [row["line"] for row in document["bad_rows"]] == BAD_LINES
    assert document["subscribers_added"] == 0
    assert _phones(capsys) == {}


def test_skip_invalid_imports_the_good_rows_and_the_errors_file_imports_once_corrected(
    cli_db: str, french_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors = tmp_path / "à corriger.csv"
    capsys.readouterr()
    args = ["subscribers", "import", str(french_file), "--skip-invalid", "--errors", str(errors)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Windows-1252, semicolon-separated" in out
    assert "3 subscriber(s) added" in out and "5 bad row(s) skipped" in out
    assert "Bad rows written to" in out
    stored = _phones(capsys)
    assert set(stored) == GOOD
    assert (stored["+14185550101"]["lang"], stored["+14185550101"]["topics"]) == ("fr", ["snow"])
    assert stored["+14185550102"]["lang"] == "en"
    assert stored["+14185550102"]["topics"] == ["snow", "radar"]
    assert stored["+14185550104"]["zones"] == ["Côte-Blanche"]

    raw = errors.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads the accents right
    with errors.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == ["line", "reason", "Téléphone", "Quartier", "Langue", "Sujets", "Lat", "Lon"]
    assert [int(row[0]) for row in rows[1:]] == BAD_LINES
    assert rows[1][2:4] == ["12", "Lac-Doré"] and "not a valid phone number" in rows[1][1]
    assert rows[5][6:] == ["45,5", "'-73,5"]  # a leading - would be a formula: made text

    # The operator corrects the rows in the errors file and imports it as it is.
    corrected = [rows[0]]
    fixes = {4: {2: "4185550108"}, 5: {3: "Les Érables"}, 6: {4: "English"},
             7: {5: "Neige; Radar"}, 8: {6: "47,0395", 7: "'-71,3220"}}  # fmt: skip
    for row in rows[1:]:
        for column, value in fixes[int(row[0])].items():
            row[column] = value
        corrected.append(row)
    with errors.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows(corrected)
    assert main(["subscribers", "import", str(errors), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["bad_rows"] == [] and document["subscribers_added"] == 5
    assert (document["encoding"], document["delimiter"]) == ("utf-8-bom", ";")
    stored = _phones(capsys)
    assert len(stored) == 8
    assert stored["+14185550103"]["zones"] == ["Les Érables"]
    assert stored["+14185550105"]["lang"] == "en"
    assert stored["+14185550106"]["topics"] == ["snow", "radar"]
    assert stored["+14185550107"]["zones"] == ["Côte-Blanche"]


def test_an_errors_file_of_a_refused_import_lists_every_bad_row(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "many.csv"
    lines = ["phone,zone"] + [f"41855501{n:02d},Atlantis" for n in range(25)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors = tmp_path / "errors.csv"
    capsys.readouterr()
    assert main(["subscribers", "import", str(path), "--errors", str(errors)]) == 1
    captured = capsys.readouterr()
    assert "25 bad row(s), nothing imported" in captured.err
    assert captured.err.count("no zone named") == 10 and "; and 15 more" in captured.err
    assert captured.out.count("no zone named 'Atlantis'") == 25
    assert "Nothing imported" in captured.out
    with errors.open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 25
    assert _phones(capsys) == {}


def test_the_errors_file_cannot_be_the_file_imported(
    cli_db: str, french_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = french_file.read_bytes()
    capsys.readouterr()
    args = ["subscribers", "import", str(french_file), "--skip-invalid", "--errors"]
    assert main([*args, str(french_file)]) == 2
    assert main([*args, str(french_file.parent / "." / french_file.name)]) == 2
    assert "--errors must name another file" in capsys.readouterr().err
    assert french_file.read_bytes() == before
    assert _phones(capsys) == {}


def test_a_utf8_bom_comma_file_with_english_headers(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "subscribers.csv"
    text = (
        "Phone,Neighbourhood,Language,Topics,Status\n"
        '"+1 418 555 0121",Saint-Éloi,English,"snow, radar",active\n'
        "418-555-0122,les érables,French,Radar,\n"
        "418-555-0123,Lac-Doré,fr,snow,opted_out\n"
    )
    path.write_bytes(text.encode("utf-8-sig"))
    capsys.readouterr()
    assert main(["subscribers", "import", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["encoding"], document["delimiter"]) == ("utf-8-bom", ",")
    assert (document["subscribers_added"], document["skipped_inactive"]) == (2, 1)
    stored = _phones(capsys)
    assert stored["+14185550121"]["zones"] == ["Saint-Éloi"]
    assert stored["+14185550121"]["topics"] == ["snow", "radar"]
    assert (stored["+14185550122"]["lang"], stored["+14185550122"]["topics"]) == ("fr", ["radar"])
    assert "+14185550123" not in stored


def test_unknown_or_doubled_columns_are_refused_naming_them(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Téléphone;Quartiers\n4185550101;Lac-Doré\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["subscribers", "import", str(path)]) == 1
    assert "unknown column(s) 'Quartiers'" in capsys.readouterr().err
    path.write_text("Téléphone;phone\n4185550101;4185550101\n", encoding="utf-8")
    assert main(["subscribers", "import", str(path)]) == 1
    assert "'Téléphone' and 'phone' both give the phone" in capsys.readouterr().err


def test_the_masked_export_warns_and_does_not_import_again(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribers", "add", "4185550123", "--zone", "Lac-Doré"]) == 0
    capsys.readouterr()
    assert main(["subscribers", "export"]) == 0
    masked = capsys.readouterr()
    assert "warning: phone numbers are masked" in masked.err
    assert "--include-phones" in masked.err and masked.err.count("\n") == 1
    assert masked.out.splitlines()[1].startswith("+1******0123,Lac-Doré")
    assert main(["subscribers", "export", "--include-phones"]) == 0
    whole = capsys.readouterr()
    assert whole.err == "" and "+14185550123" in whole.out

    path = tmp_path / "masked.csv"
    path.write_text(masked.out, encoding="utf-8")
    assert main(["subscribers", "import", str(path)]) == 1
    assert "is a masked number" in capsys.readouterr().err
