"""The operators' licence aliases (table ``communes_licence_alias``, created by the plugin's alembic migration
a1c0ffee0e07): a text a source writes -> the registry licence it designates, with who added it and when (the
audit of that operator action). Rows are only added (``communes_licence_alias_create``)."""

from __future__ import annotations

import datetime

import ckan.plugins.toolkit as tk
from sqlalchemy import Column, DateTime, Integer, UnicodeText


class LicenceAlias(tk.BaseModel):
    __tablename__ = "communes_licence_alias"

    id = Column(Integer, primary_key=True, autoincrement=True)
    alias = Column(UnicodeText, nullable=False)  # as the operator typed it (stripped)
    # normalise.text_key(alias): case, accents, spacing do not matter; unique, so a text has one licence.
    alias_key = Column(UnicodeText, nullable=False, unique=True)
    licence_id = Column(UnicodeText, nullable=False)  # registry id
    created_by = Column(UnicodeText, nullable=False)  # user name
    created = Column(DateTime, nullable=False, default=datetime.datetime.utcnow)
