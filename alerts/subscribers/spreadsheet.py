"""Spreadsheets saved as CSV, as operators have them: UTF-8 (with or without a BOM) or
Windows-1252 (French Excel), comma- or semicolon-separated, headed in French or English.

The encoding is found by a first pass over the bytes (strict UTF-8, else Windows-1252), which
also counts the lines for a progress bar; the delimiter from the header row. Cells that a
spreadsheet would run as formulas are written with a leading apostrophe and read without.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alerts.errors import InvalidInput, UsageError
from alerts.gateways.documents import require_import_file

# How each encoding is named: in --json (the key) and in the summary (the value).
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-bom": "UTF-8 with BOM",
    "windows-1252": "Windows-1252",
    "utf-16": "UTF-16",
}
_CODECS = {"utf-8": "utf-8", "utf-8-bom": "utf-8-sig", "windows-1252": "cp1252", "utf-16": "utf-16"}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_CHUNK_BYTES = 1 << 20
# A header row longer than this is no header (a file without line breaks, say).
_MAX_HEADER_CHARS = 64 * 1024
# A spreadsheet opening a CSV runs a cell starting with one of these as a formula
# (=HYPERLINK(...), or DDE): such cells are written with a leading apostrophe, which makes
# them text; reading takes it off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number, whole (E.164) or masked, is data a spreadsheet shows as it is.
_PHONE = re.compile(r"\+[0-9*]+")
# A rejected row: its line number, why, and its cells as written.
Reject = tuple[int, str, list[str]]


@dataclass(frozen=True)
class Sheet:
    """A CSV file as found: encoding, delimiter, header, and each column's meaning."""

    path: Path
    encoding: str  # a key of ENCODINGS
    delimiter: str
    header: tuple[str, ...]  # as written in the file
    columns: tuple[str | None, ...]  # each column's name in COLUMNS terms; None: not read
    lines: int  # physical lines, the header's included: a progress bar's total
    read_past: frozenset[int] = frozenset()  # the ignored columns (an errors file's own)

    @property
    def encoding_name(self) -> str:
        """The encoding as the summary says it ("Windows-1252")."""
        return ENCODINGS[self.encoding]

    @property
    def delimiter_name(self) -> str:
        """The delimiter as the summary says it ("semicolon")."""
        return DELIMITERS[self.delimiter]


def header_key(name: str) -> str:
    """A column name compared loosely: no accents, no case, punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", bare.casefold()).split())


def open_sheet(
    path: Path, names: Mapping[str, str], *, required: str, ignored: Iterable[str] = ()
) -> Sheet:
    """Find a CSV file's encoding, delimiter and columns; `names` maps each header_key
    accepted to a column name, `ignored` names columns read past (an errors file's own)."""
    require_import_file(path)
    encoding, lines = _detect_encoding(path)
    first = _first_line(path, encoding)
    delimiter = _sniff_delimiter(first)
    header = tuple(cell.strip() for cell in next(csv.reader([first], delimiter=delimiter), []))
    skip = {header_key(name) for name in ignored}
    columns: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    read_past: set[int] = set()
    for position, cell in enumerate(header):
        key = header_key(cell)
        name = names.get(key)
        if name is None and key in skip:
            read_past.add(position)
        elif name is None and key:
            unknown.append(cell)
        if name is not None and name in seen:
            raise InvalidInput(
                f"{path.name}: the columns {seen[name]!r} and {cell!r} both give the {name}"
            )
        if name is not None:
            seen[name] = cell
        columns.append(name)
    if required not in seen:
        raise InvalidInput(
            f"{path.name}: the header row must name a {required!r} column "
            f"(found {', '.join(repr(c) for c in header) or 'none'}; "
            f"{DELIMITERS[delimiter]}-separated, {ENCODINGS[encoding]})"
        )
    if unknown:
        known = sorted(set(names.values()), key=list(names.values()).index)
        raise InvalidInput(
            f"{path.name}: unknown column(s) {', '.join(repr(c) for c in unknown)} "
            f"(known: {', '.join(known)}, in French or English); remove or rename them"
        )
    return Sheet(path, encoding, delimiter, header, tuple(columns), lines, frozenset(read_past))


def sheet_rows(sheet: Sheet) -> Iterator[tuple[int, list[str]]]:
    """Each data row that is not blank, with its line number, its cells as written."""
    name = sheet.path.name
    try:
        handle = sheet.path.open(newline="", encoding=_CODECS[sheet.encoding])
    except OSError as exc:
        raise InvalidInput(f"cannot read {sheet.path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle, delimiter=sheet.delimiter)
        try:
            next(reader, None)  # the header, read by open_sheet
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, cells
        except csv.Error as exc:
            raise InvalidInput(f"{name} line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{name} line {reader.line_num + 1}: neither UTF-8 nor Windows-1252 text"
            ) from None


def from_cell(value: str) -> str:
    """A cell as read: trimmed, and without the apostrophe an export put before a formula."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        value = value[1:]
    return value.strip()


def spreadsheet_safe(value: str) -> str:
    """A CSV cell no spreadsheet runs: a leading ' before what would start a formula."""
    if value.startswith(_FORMULA_STARTS) and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def check_output_path(target: Path, source: Path, option: str) -> None:
    """A file an import writes (its rejected rows) must not be the file it reads."""
    same = target.resolve() == source.resolve()
    if not same and target.exists() and source.exists():
        same = os.path.samefile(target, source)
    if same:
        raise UsageError(f"{option} must name another file than the one imported ({source})")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {target}: no such folder {target.parent}")


def write_rejects(target: Path, sheet: Sheet, rejects: Iterable[Reject]) -> None:
    """Write rejected rows as CSV (line, reason, then the file's own columns), in the file's
    delimiter and in UTF-8 with a BOM (Excel reads it so), for correction and re-import.
    The line and reason columns of an errors file read are replaced by this file's.

    Written beside the target and renamed over it: a failure leaves no half file.
    """
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=sheet.delimiter)
            writer.writerow(["line", "reason", *_kept(sheet, sheet.header)])
            for line, reason, cells in rejects:
                kept = _kept(sheet, cells)
                writer.writerow([str(line), *(spreadsheet_safe(c) for c in (reason, *kept))])
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {target}: {exc.strerror}") from None


def _kept(sheet: Sheet, cells: Iterable[str]) -> list[str]:
    return [cell for position, cell in enumerate(cells) if position not in sheet.read_past]


def _detect_encoding(path: Path) -> tuple[str, int]:
    """The file's encoding (a key of ENCODINGS) and its number of lines, in one pass."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8-bom" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")() if encoding != "utf-16" else None
        lines, last = 0, b""
        while chunk := handle.read(_CHUNK_BYTES):
            lines += chunk.count(b"\n")
            last = chunk
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    decoder = None
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                decoder = None
    if decoder is None and encoding != "utf-16":
        if encoding == "utf-8-bom":
            raise InvalidInput(f"{path.name}: starts as UTF-8 text but is not UTF-8 after")
        encoding = "windows-1252"
    if last and not last.endswith(b"\n"):
        lines += 1
    return encoding, lines


def _first_line(path: Path, encoding: str) -> str:
    try:
        with path.open(newline="", encoding=_CODECS[encoding]) as handle:
            first = handle.readline(_MAX_HEADER_CHARS + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}: neither UTF-8 nor Windows-1252 text") from None
    if len(first) > _MAX_HEADER_CHARS:
        raise InvalidInput(
            f"{path.name}: no header row in its first {_MAX_HEADER_CHARS:,} characters"
        )
    if not first.strip():
        raise InvalidInput(f"{path.name}: empty file, expected a header row")
    return first


def _sniff_delimiter(header: str) -> str:
    """The delimiter giving the header the most columns (quotes honoured); a comma on a tie."""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])
