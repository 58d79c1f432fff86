"""Reading operators' spreadsheets: encodings detected, delimiters sniffed, headers compared
loosely, and the files that are none of these refused with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alerts.errors import InvalidInput, UsageError
from alerts.subscribers.spreadsheet import check_output_path, header_key, open_sheet, sheet_rows
from alerts.subscribers.subscriber_import import import_subscribers
from alerts.subscribers.subscribers import show_subscriber
from alerts.wiring import Services

NAMES = {"phone": "phone", "telephone": "phone", "quartier": "zone", "zone": "zone"}


def _sheet(path: Path, data: bytes) -> tuple[str, str, list[tuple[int, list[str]]]]:
    path.write_bytes(data)
    sheet = open_sheet(path, NAMES, required="phone")
    return sheet.encoding, sheet.delimiter, list(sheet_rows(sheet))


def test_header_names_compare_without_accents_case_or_separators() -> None:
    assert header_key(" Téléphone ") == "telephone"
    assert header_key("\ufeffNuméro_de-téléphone") == "numero de telephone"
    assert header_key("QUARTIER") == "quartier"


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        ("Téléphone;Quartier\r\n4185550101;Lac-Doré\r\n".encode("cp1252"), "windows-1252", ";"),
        ("Téléphone,Quartier\n4185550101,Lac-Doré\n".encode(), "utf-8", ","),
        ("Téléphone;Quartier\n4185550101;Lac-Doré\n".encode("utf-8-sig"), "utf-8-bom", ";"),
        ("Téléphone\tQuartier\r\n4185550101\tLac-Doré\r\n".encode("utf-16"), "utf-16", "\t"),
        # A comma inside a quoted header name does not make the file comma-separated.
        ('"Téléphone, cellulaire";Quartier\n4185550101;Lac-Doré\n'.encode(), "utf-8", ";"),
    ],
)
def test_encoding_and_delimiter_are_found(
    tmp_path: Path, data: bytes, encoding: str, delimiter: str
) -> None:
    names = {**NAMES, "telephone cellulaire": "phone"}
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    sheet = open_sheet(path, names, required="phone")
    assert (sheet.encoding, sheet.delimiter) == (encoding, delimiter)
    assert sheet.columns == ("phone", "zone")
    assert list(sheet_rows(sheet)) == [(2, ["4185550101", "Lac-Doré"])]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"telephone;quartier\n4185550101;\x81\n", "neither UTF-8 nor Windows-1252"),
        ("telephone\n4185550101\n".encode("utf-8-sig") + b"\xe9\n", "starts as UTF-8"),
        (b"quartier\nLac\n", "must name a 'phone' column"),
        (b"phone" * 20_000 + b"\n", "no header row"),
    ],
)
def test_files_that_are_no_spreadsheet_are_refused(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        _sheet(tmp_path / "bad.csv", data)


def test_the_output_file_must_not_be_the_input(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("phone\n")
    os.link(source, tmp_path / "same.csv")
    for target in (source, tmp_path / "." / "in.csv", tmp_path / "same.csv"):
        with pytest.raises(UsageError, match="another file"):
            check_output_path(target, source, "--errors")
    with pytest.raises(UsageError, match="no such folder"):
        check_output_path(tmp_path / "nowhere" / "errors.csv", source, "--errors")
    check_output_path(tmp_path / "errors.csv", source, "--errors")


def test_an_excel_unicode_text_file_imports(town: Services, tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes(
        "Téléphone\tQuartier\tLangue\r\n4185550101\tLac-Doré\tanglais\r\n".encode("utf-16")
    )
    report = import_subscribers(town, path)
    assert (report.encoding, report.delimiter, report.subscribers_added) == ("utf-16", "\t", 1)
    shown = show_subscriber(town, "4185550101")
    assert (shown.zones, shown.lang) == (["Lac-Doré"], "en")
