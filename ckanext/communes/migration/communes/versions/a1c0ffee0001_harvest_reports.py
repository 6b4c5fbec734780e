"""Harvest job reports of ckanext-communes: what a job decided (created, updated, unchanged, withdrawn,
restored), per commune, its mapping warnings and errors, the circuit breaker's state and the
withdrawals waiting for an operator's approval, and the page hashes the next job compares against.

Revision ID: a1c0ffee0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "a1c0ffee0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communes_harvest_report",
        # No foreign key to harvest_job: plugin migrations run in plugin order, and ours may run before
        # ckanext-harvest's on a fresh database. A report whose job was cleared is simply never read.
        sa.Column("job_id", sa.UnicodeText, primary_key=True),
        sa.Column("source_id", sa.UnicodeText, nullable=False, index=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("breaker", sa.UnicodeText, nullable=True),
        sa.Column("counts", JSONB, nullable=False, server_default="{}"),
        sa.Column("per_commune", JSONB, nullable=False, server_default="{}"),
        sa.Column("messages", JSONB, nullable=False, server_default="[]"),
        sa.Column("pending_withdrawals", JSONB, nullable=False, server_default="[]"),
        sa.Column("pages", JSONB, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_table("communes_harvest_report")
