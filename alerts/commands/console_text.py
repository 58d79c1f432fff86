"""Data shown on the operator's terminal as text, never as markup or terminal control.

Zone names, addresses and texts come from files and residents. Printed through rich, a name
holding `[/]` raises a MarkupError (after the command's transaction has committed) and one
holding `[link=...]` becomes a hyperlink; a control character (ESC, BEL) reaches the
terminal itself. Every value from data goes through `plain` before rich sees it.
"""

from __future__ import annotations

import textwrap
import unicodedata

from rich.markup import escape

# What stands in for a control character: visible, and inert on any terminal.
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# Line breaks and tabs move the cursor and nothing else (an SMS text may hold a line break).
_KEPT = frozenset("\n\t")


def plain(value: object) -> str:
    """A value as literal text for rich: markup escaped, control characters replaced."""
    return escape(without_controls(str(value)))


def without_controls(text: str) -> str:
    """The text with its control characters (C0, DEL, C1: ESC, BEL...) replaced, but for
    line breaks and tabs."""
    if text.isprintable():
        return text
    return "".join(
        REPLACEMENT if unicodedata.category(ch) == "Cc" and ch not in _KEPT else ch for ch in text
    )


def wrapped_lines(text: str, first: str, rest: str, width: int) -> list[str]:
    """Text wrapped at spaces to `width` under a label (`first`, then `rest` as indent),
    its own line breaks kept; words are never cut (a long one may pass the width)."""
    lines: list[str] = []
    for paragraph in without_controls(text).split("\n"):
        lines += textwrap.wrap(
            paragraph, width=max(width, len(first) + 20), initial_indent=rest if lines else first,
            subsequent_indent=rest, break_long_words=False, break_on_hyphens=False,
        ) or [(rest if lines else first).rstrip()]  # fmt: skip
    return lines
