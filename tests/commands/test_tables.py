"""Tables fitted to the terminal: at any width every line fits, nothing is cut with an
ellipsis, and what gives way does so in order (wrap, short headers, text under the row,
secondary columns, then blocks)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import pytest
from rich.console import Console

from alerts.commands.tables import Cell, Column, print_table, table_lines

LONG_ZONE = "Haute-Saint-Charles—Val-Bélair-Nord-et-Lac-Saint-Joseph-Est"
TEXT = (
    "Alertes de quartier, Saint-Éloi: opération de déneigement dès jeudi 3 décembre à 19 h. "
    "Stationnement interdit dans la rue de 19 h à 7 h, sous peine de remorquage."
)
COLUMNS = (
    Column("id", justify="right"),
    Column("kind"),
    Column("created"),
    Column("recipients", short="rcpt", justify="right"),
    Column("zones", wrap=True, min_width=12),
    Column("failed", short="fail", drop=1, justify="right"),
    Column("text", wrap=True, min_width=30, below=True),
)
ROWS: list[tuple[Cell, ...]] = [
    (12, "snow", "jeu. 3 déc. 19 h 30", 1234, f"Saint-Éloi, {LONG_ZONE}", 3, TEXT),
    (3, "info", "Thu Dec 3, 7:30 p.m.", 1, "Lac-Doré", 0, "short"),
]


def render(columns: tuple[Column, ...], rows: Sequence[Sequence[Cell]], width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, soft_wrap=True)
    print_table(columns, rows, console)
    return out.getvalue()


def pieces(cell: object) -> list[str]:
    """What no line break splits: the cell's words, and their parts after a hyphen or dash."""
    return re.findall(r"[^-—\s]*[-—]+|[^-—\s]+", str(cell))


@pytest.mark.parametrize("width", [160, 120, 100, 80, 72, 60, 40, 30, 20])
def test_every_line_fits_and_nothing_is_cut(width: int) -> None:
    shown = render(COLUMNS, ROWS, width)
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= width
    assert not any(line.endswith(" ") for line in shown.splitlines())
    # Every word of every cell is there whole, however the lines broke.
    for cell in (*ROWS[0], *ROWS[1]):
        for piece in pieces(cell):
            assert piece in shown, (width, piece)


def test_wide_terminals_show_one_line_a_row_with_the_full_headers() -> None:
    shown = render(COLUMNS, ROWS, 400).splitlines()
    assert shown[0].split() == ["id", "kind", "created", "recipients", "zones", "failed", "text"]
    assert set(shown[1]) == {"─"}
    assert len(shown) == 4
    assert shown[2].startswith("12  snow  jeu. 3 déc. 19 h 30")
    assert shown[3].startswith(" 3  info")  # numbers to the right


def test_at_80_columns_long_texts_go_under_their_row() -> None:
    shown = render(COLUMNS, ROWS, 80).splitlines()
    assert shown[0].split() == ["id", "kind", "created", "recipients", "zones", "failed"]
    assert shown[2].startswith("12  snow  jeu. 3 déc. 19 h 30")
    under = [line for line in shown if line.lstrip().startswith("text:")]
    assert under[0].startswith("    text: Alertes de quartier")  # under the second column
    assert "    text: short" in shown


def test_a_long_hyphenated_name_breaks_after_a_hyphen_or_dash_not_inside_a_word() -> None:
    columns = (Column("zone", wrap=True), Column("km²", justify="right"))
    shown = render(columns, [(LONG_ZONE, "0.85")], 30).splitlines()
    # The zone column is 24 wide: "Bélair-Nord-et-Lac-Saint-" would be 25.
    assert shown[2:] == [
        "Haute-Saint-Charles—Val-  0.85",
        "Bélair-Nord-et-Lac-",
        "Saint-Joseph-Est",
    ]


def test_abbreviated_headers_come_before_dropped_columns_then_blocks() -> None:
    columns = (
        Column("identifier", short="id"),
        Column("neighbourhood", short="zone"),
        Column("comment", drop=1),
    )
    rows = [("1", "Bas-de-la-Falaise", "x")]
    assert render(columns, rows, 40).splitlines()[0].split() == [
        "identifier", "neighbourhood", "comment",
    ]  # fmt: skip
    assert render(columns, rows, 30).splitlines()[0].split() == ["id", "zone", "comment"]
    assert render(columns, rows, 21).splitlines() == [
        "id  zone", "─────────────────────", "1   Bas-de-la-Falaise",
    ]  # fmt: skip
    assert render(columns, rows, 20).splitlines() == [
        "identifier: 1", "  neighbourhood:", "    Bas-de-la-", "    Falaise", "  comment: x",
    ]  # fmt: skip


def test_blocks_name_each_value_and_leave_out_empty_ones() -> None:
    shown = render(COLUMNS, [(12, "snow", "", 1234, "Lac-Doré", 0, TEXT)], 30)
    lines = shown.splitlines()
    assert lines[0] == "id: 12"
    assert "  kind: snow" in lines and "  failed: 0" in lines
    assert not any(line.strip().startswith("created") for line in lines)
    text = next(n for n, line in enumerate(lines) if line.startswith("  text: Alertes"))
    assert len(lines) > text + 2  # wrapped, its following lines hanging under the value
    assert all(line.startswith("    ") for line in lines[text + 1 :])


def test_cells_are_shown_literally() -> None:
    rows = [("[bold]x[/bold] [/]", "Évil\x1b[2J\tNord")]
    shown = render((Column("a"), Column("b")), rows, 80)
    assert "[bold]x[/bold] [/]" in shown
    assert "\x1b" not in shown and "\t" not in shown and "\N{REPLACEMENT CHARACTER}" in shown


def test_an_empty_table_is_its_header() -> None:
    lines = table_lines((Column("id"), Column("zone")), [], 80)
    assert [str(line) for line in lines] == ["id  zone", "────────"]
