"""Alembic environment: runs on the connection the service hands over (see alerts.storage.db)."""

from __future__ import annotations

from typing import Literal

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from alerts.storage.models import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _render_item(type_: str, obj: object, _autogen_context: object) -> str | Literal[False]:
    # Migrations spell plain SQLAlchemy types, so they never import the service's code.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Developer use of the alembic command itself: `-x url=sqlite:///dev.db`.
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///alerts.db")
    with create_engine(url).connect() as own_connection:
        _run(own_connection)
        own_connection.commit()
