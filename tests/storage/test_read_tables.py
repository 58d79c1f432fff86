"""Quick reads name their columns without the models: every name must be the models' own."""

from __future__ import annotations

from sqlmodel import SQLModel

from alerts.storage import models  # noqa: F401  (registers every table in the metadata)
from alerts.storage.read_tables import ALL


def test_every_light_table_names_only_columns_the_models_have() -> None:
    for light in ALL:
        real = SQLModel.metadata.tables[light.name]
        assert set(light.c.keys()) <= set(real.c.keys()), light.name
