"""Hostile data: zone names written straight into the database, past every import check.

Whatever an import strips, what the service prints, serves or exports must stay text: these
names hold console markup, terminal and XML control characters, and spreadsheet formulas.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from alerts.wiring import Services

MARKUP = "[link=http://x]Évil[/]"  # a hyperlink on the terminal, shown as nothing but Évil
CLOSING = "[/]Évil"  # a closing tag with nothing to close: rich raises MarkupError
BELL = "Évil\x07 Nord"  # illegal in XML 1.0, even escaped
ESCAPE = "Évil\x1b[2J Nord"  # ESC: would clear the operator's terminal
NUL = "Évil\x00Nord"  # SQLite only: PostgreSQL text cannot hold NUL
FORMULA = '=HYPERLINK("http://x","Évil")'  # run by a spreadsheet opening the export
FORMULA_STARTS = ("=", "+", "-", "@")


def rename_zone(where: Services | str, old: str, new: str) -> None:
    """Rename a zone in the database directly (a Services, or a database URL for the CLI)."""
    engine: Engine = where.engine if isinstance(where, Services) else create_engine(where)
    with engine.begin() as connection:
        changed = connection.execute(
            text("UPDATE zone SET name = :new WHERE name = :old"), {"new": new, "old": old}
        ).rowcount
    assert changed == 1, (old, new)
    if isinstance(where, Services):
        where.zones.invalidate()
    else:
        engine.dispose()


def names_for(database_url: str) -> list[str]:
    """The hostile names this database can hold."""
    names = [MARKUP, CLOSING, BELL, ESCAPE, FORMULA]
    return [*names, NUL] if database_url.startswith("sqlite") else names
