"""Tables that fit the operator's terminal: nothing is ever cut with an ellipsis.

Left to itself, rich squeezes a table into the terminal by cutting cells (`│ s… │ 2… │`). Here
the widths are decided first, trying in turn: every column at its natural width; long text
columns wrapped (at spaces, and inside a long hyphenated name after a hyphen or a dash);
abbreviated headers; long texts moved under their row; secondary columns dropped (least
useful first); and when even that is too wide, each row stacked as a block of
`header: value` lines. The width is rich's `Console.width`, which honours COLUMNS.

The lines are laid out here, not by rich's Table: a table of 20,000 subscribers prints in
about a second, and no line ends in padding.

Cells are data: plain strings are shown literally (no markup, control characters replaced).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.text import Text

from alerts.commands.console_text import without_controls
from alerts.commands.context import console as default_console

# Between two columns.
_GUTTER = "  "
# Where a word too long for its column may break: after a hyphen, a dash or a slash
# ("Haute-Saint-Charles—Val-Bélair" -> "Haute-Saint-" / "Charles—Val-" / "Bélair").
_PARTS = re.compile(r"[^-–—/]*[-–—/]+|[^-–—/]+")


@dataclass(frozen=True)
class Column:
    """One column: its header, how it may shrink, and whether it may go."""

    header: str
    # The header when space is short ("recipients" -> "rcpt"); empty: the header itself.
    short: str = ""
    # Long free text (a zone list, an alert's text): wrapped rather than kept on one line.
    wrap: bool = False
    # A wrapped column narrower than this is not worth showing (a text three letters wide).
    min_width: int = 0
    # Long text that, when it cannot have min_width in the table, goes on its own line
    # under each row instead, across the width (an alert's text under its figures).
    below: bool = False
    # 0: always shown; otherwise dropped when the table does not fit, the highest first.
    drop: int = 0
    justify: Literal["left", "right"] = "left"

    def title(self, abbreviated: bool) -> str:
        """The header to show."""
        return self.short if abbreviated and self.short else self.header


Cell = str | int | float | None
# An output line: plain text, or text with bold parts (headers, labels).
Line = str | Text


@dataclass(frozen=True)
class _Layout:
    """A table that fits: which columns, how wide, which go under the rows."""

    shown: list[int]
    widths: list[int]
    under: list[int]
    abbreviated: bool


def table_lines(
    columns: Sequence[Column], rows: Iterable[Sequence[Cell]], width: int
) -> list[Line]:
    """The rows as the lines of a table within `width` cells, or of stacked blocks if no
    table fits."""
    cells = [[_text(cell) for cell in row] for row in rows]
    width = max(width, 1)
    layout = _layout(columns, cells, width)
    if layout is None:
        return _stacked(columns, cells, width)
    return _table_lines(columns, cells, layout, width)


def print_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    console: Console | None = None,
    *,
    indent: int = 0,
) -> None:
    """Print the rows fitted to the terminal's width (see table_lines), `indent` spaces in."""
    out = console or default_console
    margin = " " * indent
    plain: list[str] = []
    # Each line is already within the width: nothing for rich to wrap, crop or pad. Plain
    # lines go out together (one print of 20,000 lines, not 20,000 prints).
    for line in table_lines(columns, rows, out.width - indent):
        if isinstance(line, str):
            plain.append(margin + line)
            continue
        if plain:
            out.print(Text("\n".join(plain)), soft_wrap=True)
            plain = []
        out.print(Text(margin) + line, soft_wrap=True)
    if plain:
        out.print(Text("\n".join(plain)), soft_wrap=True)


def _layout(
    columns: Sequence[Column], cells: Sequence[Sequence[str]], width: int
) -> _Layout | None:
    """The first arrangement that fits, from the fullest to the most reduced; None if none does."""
    count = len(columns)
    # Measured once per column: its widest cell, and its longest unbreakable piece.
    natural = [max((_widest_line(row[i]) for row in cells), default=0) for i in range(count)]
    pieces = [max((_longest_part(row[i]) for row in cells), default=0) for i in range(count)]
    # Long texts go under the rows one at a time, the last column first.
    belows = [i for i, column in enumerate(columns) if column.below][::-1]
    levels = sorted({column.drop for column in columns if column.drop}, reverse=True)
    attempts = [(short, moved, 0) for moved in range(len(belows) + 1) for short in (False, True)]
    attempts += [(True, len(belows), level) for level in levels]
    for abbreviated, moved, level in attempts:
        under = sorted(belows[:moved])
        shown = [
            i for i in range(count) if i not in under and not (level and columns[i].drop >= level)
        ]
        widths = _widths(columns, shown, abbreviated, natural, pieces, width)
        if widths is not None:
            return _Layout(shown, widths, under, abbreviated)
    return None


def _widths(
    columns: Sequence[Column],
    shown: Sequence[int],
    abbreviated: bool,
    natural: Sequence[int],
    pieces: Sequence[int],
    width: int,
) -> list[int] | None:
    """Each shown column's width, or None when they cannot all fit."""
    full: list[int] = []
    least: list[int] = []
    for index in shown:
        column = columns[index]
        title = column.title(abbreviated)
        own = max(natural[index], _widest_line(title))
        full.append(own)
        if column.wrap or column.below:
            piece = max(pieces[index], _longest_part(title))
            least.append(min(own, max(piece, column.min_width)))
        else:
            least.append(own)
    room = width - len(_GUTTER) * (len(shown) - 1)
    if sum(full) <= room:
        return full
    if sum(least) > room:
        return None
    # The spare room goes to the wrapped columns that lack the least first, each given
    # all it lacks or an even share of what is left: "snow, radar" stays on one line
    # beside a long list of zones.
    widths = list(least)
    spare = room - sum(least)
    lacking = sorted(range(len(shown)), key=lambda n: full[n] - least[n])
    for rank, n in enumerate(lacking):
        given = min(full[n] - least[n], spare // (len(lacking) - rank))
        widths[n] += given
        spare -= given
    return widths


def _table_lines(
    columns: Sequence[Column], cells: Sequence[Sequence[str]], layout: _Layout, width: int
) -> list[Line]:
    """The header, its rule, and each row (then its long texts, indented under the second
    column, as `header: text` lines)."""
    shown = [columns[i] for i in layout.shown]
    titles = [column.title(layout.abbreviated) for column in shown]
    lines: list[Line] = [
        Text(line, style="bold") for line in _row_lines(shown, titles, layout.widths)
    ]
    span = sum(layout.widths) + len(_GUTTER) * (len(shown) - 1)
    lines.append("─" * span)
    indent = min(layout.widths[0] + len(_GUTTER), width // 2) if len(shown) > 1 else 2
    for row in cells:
        lines.extend(_row_lines(shown, [row[i] for i in layout.shown], layout.widths))
        for index in layout.under:
            if row[index]:
                lines.extend(_labelled(columns[index].header, row[index], indent, width))
    return lines


def _row_lines(columns: Sequence[Column], cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    """One row of cells, wrapped within their widths, as lines side by side."""
    from rich.cells import cell_len

    wrapped = [_wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for number in range(height):
        parts = []
        for column, lines, width in zip(columns, wrapped, widths, strict=True):
            piece = lines[number] if number < len(lines) else ""
            gap = " " * (width - cell_len(piece))
            parts.append(gap + piece if column.justify == "right" else piece + gap)
        out.append(_GUTTER.join(parts).rstrip())
    return out


def _stacked(columns: Sequence[Column], cells: Sequence[Sequence[str]], width: int) -> list[Line]:
    """Each row as a block of `header: value` lines, the first one flush and the others
    indented (empty cells left out), continuation lines hanging two spaces further in."""
    lines: list[Line] = []
    for number, row in enumerate(cells):
        if number:
            lines.append("")
        for place, (column, cell) in enumerate(zip(columns, row, strict=True)):
            if place == 0 or cell:
                lines.extend(_labelled(column.header, cell, 2 if place else 0, width))
    return lines


def _labelled(label: str, value: str, indent: int, width: int) -> list[Line]:
    """`label: value` wrapped within `width`, `indent` spaces in, the label in bold and the
    continuation lines two spaces further in."""
    text = f"{label}: {value}"
    head = _wrap(text, max(width - indent, 1))[0]
    rest = text[len(head) :].lstrip(" ").removeprefix("\n")
    first = Text(" " * indent + head)
    first.stylize("bold", indent, indent + len(label) + 1)
    more = _wrap(rest, max(width - indent - 2, 1)) if rest else []
    return [first, *(" " * (indent + 2) + piece for piece in more)]


def _wrap(text: str, width: int) -> list[str]:
    """The text's lines within `width`: broken at spaces, a word too long for a line after a
    hyphen or dash, and only a piece longer than the whole width in its middle."""
    from rich.cells import cell_len

    lines: list[str] = []
    for paragraph in text.split("\n"):
        if cell_len(paragraph) <= width:
            lines.append(paragraph)
            continue
        starts: list[int] = [0]  # where each line starts in the paragraph
        used = 0
        for match in re.finditer(r"\S+", paragraph):
            word, at = match.group(), match.start()
            size = cell_len(word)
            if used and used + 1 + size <= width:
                used += 1 + size
                continue
            if used:
                starts.append(at)
                used = 0
            if size <= width:
                used = size
                continue
            for part_match in _PARTS.finditer(word):
                part, part_at = part_match.group(), at + part_match.start()
                for chunk_at, chunk_size in _chunks(part, width):
                    if used and used + chunk_size > width:
                        starts.append(part_at + chunk_at)
                        used = 0
                    used += chunk_size
        for begin, end in zip(starts, [*starts[1:], len(paragraph)], strict=True):
            lines.append(paragraph[begin:end].rstrip())
    return lines


def _chunks(part: str, width: int) -> list[tuple[int, int]]:
    """A piece of a word as (offset, cells) chunks of at most `width` cells (a piece longer
    than the width is split anywhere: folded, never cut)."""
    from rich.cells import cell_len

    if cell_len(part) <= width:
        return [(0, cell_len(part))]
    chunks, start, size = [], 0, 0
    for offset, char in enumerate(part):
        wide = cell_len(char)
        if size and size + wide > width:
            chunks.append((start, size))
            start, size = offset, 0
        size += wide
    chunks.append((start, size))
    return chunks


def _text(cell: Cell) -> str:
    # A tab would move the cursor by an unknown amount: one space keeps the widths true.
    return without_controls("" if cell is None else str(cell)).replace("\t", " ")


def _widest_line(text: str) -> int:
    from rich.cells import cell_len

    return max(cell_len(line) for line in text.split("\n"))


def _longest_part(text: str) -> int:
    """The widest piece no wrapping breaks: a word, or a word's part between hyphens."""
    from rich.cells import cell_len

    return max(
        (cell_len(part) for word in text.split() for part in _PARTS.findall(word)), default=0
    )
