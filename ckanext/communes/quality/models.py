"""The tables where the quality checks keep what they found (alembic migration a1c0ffee0002), one row per
resource (link check, SCDL validation) or per dataset (SHACL check), and the datasets waiting for their
checks (a1c0ffee0d06). The checks write the results (linkcheck.py, scdl.py, shacl.py); evidence.py reads
them for the score and the pages; background.py keeps the waiting list."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB


class LinkCheck(tk.BaseModel):
    __tablename__ = "communes_link_check"

    resource_id = Column(UnicodeText, primary_key=True)  # resource.id (no foreign key: see the migration)
    package_id = Column(UnicodeText, nullable=False, index=True)
    url = Column(UnicodeText, nullable=False)
    status = Column(Integer, nullable=True)
    final_url = Column(UnicodeText, nullable=True)
    media_type = Column(UnicodeText, nullable=True)
    size = Column(BigInteger, nullable=True)
    error = Column(UnicodeText, nullable=True)  # reason code (see evidence.message_for), None when reachable
    checked_at = Column(DateTime, nullable=True)
    failing_since = Column(DateTime, nullable=True)
    consecutive_failures = Column(Integer, nullable=False, default=0)
    next_check_at = Column(DateTime, nullable=True, index=True)


class ScdlValidation(tk.BaseModel):
    __tablename__ = "communes_scdl_validation"

    resource_id = Column(UnicodeText, primary_key=True)  # resource.id (no foreign key: see the migration)
    package_id = Column(UnicodeText, nullable=False, index=True)
    schema_url = Column(UnicodeText, nullable=False)
    valid = Column(Boolean, nullable=True)
    error_count = Column(Integer, nullable=False, default=0)
    errors_by_type = Column(JSONB, nullable=False, default=dict)
    first_errors = Column(JSONB, nullable=False, default=list)
    rows_checked = Column(Integer, nullable=False, default=0)
    error = Column(UnicodeText, nullable=True)
    checked_at = Column(DateTime, nullable=True)


class ShaclCheck(tk.BaseModel):
    __tablename__ = "communes_shacl_check"

    package_id = Column(UnicodeText, primary_key=True)  # package.id (no foreign key: see the migration)
    conforms = Column(Boolean, nullable=True)  # None: the dataset could not be serialised (see messages)
    violations = Column(Integer, nullable=False, default=0)
    messages = Column(JSONB, nullable=False, default=list)  # [{"path", "message", "focus"}]
    # What the MQA reads in the same graph (mqa_facts.py); None: checked before the MQA existed (a0f08)
    mqa_facts = Column(JSONB, nullable=True)
    checked_at = Column(DateTime, nullable=True)


class PendingCheck(tk.BaseModel):
    """A dataset saved since its last checks (background.py), until a drain has checked and reindexed it
    (alembic migration a1c0ffee0d06)."""

    __tablename__ = "communes_quality_pending"

    package_id = Column(UnicodeText, primary_key=True)  # package.id (no foreign key: a deleted row is fine)
    priority = Column(Boolean, nullable=False, default=False)  # a commune editor's own save
    queued_at = Column(DateTime, nullable=False)  # the last save (UTC): a later save asks again
    claimed_by = Column(UnicodeText, nullable=True)  # the drain checking it (job:<rq id>)
    claimed_at = Column(DateTime, nullable=True)
    checked = Column(Boolean, nullable=False, default=False)  # results stored; reindex and removal left
