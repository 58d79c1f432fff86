"""The columns that quick read commands query without the table models.

Building the SQLModel classes takes longer than a `zones list` or a single `zones locate`
takes in all, so these reads name their columns with SQLAlchemy's lightweight `table()` and
`column()`; tests/storage/test_read_tables.py holds every name here to the models.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import column, table
from sqlalchemy.engine import Connection, Engine

ZONE = table("zone", column("id"), column("name"), column("slug"), column("area_km2"),
             column("position"), column("geometry_wkb"))  # fmt: skip
SUBSCRIPTION = table("subscription", column("zone_id"), column("subscriber_id"))
META = table("meta", column("key"), column("value"))
ADDRESS = table("address", column("number"), column("suffix"), column("street"),
                column("lon"), column("lat"))  # fmt: skip
ALL = (ZONE, SUBSCRIPTION, META, ADDRESS)


@contextlib.contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads: on SQLite, a deferred transaction that waits on no writer."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="DEFERRED")
        yield connection
