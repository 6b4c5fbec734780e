"""The table of bilan snapshots (alembic migration a1c0ffee0003). A snapshot is written once and never
changed: the model refuses to flush an update (and the database has a trigger that refuses one)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from sqlalchemy import Column, DateTime, UnicodeText, event
from sqlalchemy.dialects.postgresql import JSONB


class FrozenSnapshotError(RuntimeError):
    """Something tried to change a stored snapshot."""


class BilanSnapshot(tk.BaseModel):
    __tablename__ = "communes_bilan_snapshot"

    id = Column(UnicodeText, primary_key=True)
    label = Column(UnicodeText, nullable=False)
    created = Column(DateTime, nullable=False, index=True)
    created_by = Column(UnicodeText, nullable=False)
    payload = Column(JSONB, nullable=False)


@event.listens_for(BilanSnapshot, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: BilanSnapshot) -> None:
    raise FrozenSnapshotError(f"bilan snapshot {target.id} is never changed")
