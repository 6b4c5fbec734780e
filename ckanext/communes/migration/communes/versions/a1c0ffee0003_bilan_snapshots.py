"""Snapshots of the programme's assessment (bilan): the indicators of every commune and group frozen with a
label and a date. A snapshot is never changed afterwards: the database refuses any UPDATE of a row.

Revision ID: a1c0ffee0003
Revises: a1c0ffee0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "a1c0ffee0003"
down_revision = "a1c0ffee0002"
branch_labels = None
depends_on = None

TABLE = "communes_bilan_snapshot"
FROZEN = "communes_bilan_snapshot_frozen"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("label", sa.UnicodeText, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False, index=True),
        sa.Column("created_by", sa.UnicodeText, nullable=False),
        # {"generated_at", "communes": [commune rows], "groups": [group rows]}: both groupings.
        sa.Column("payload", JSONB, nullable=False),
    )
    # The model refuses updates too (bilan/model.py); this also stops a hand-written UPDATE.
    op.execute(f"""
        CREATE OR REPLACE FUNCTION {FROZEN}() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'a bilan snapshot is never changed (row %)', OLD.id;
        END;
        $$ LANGUAGE plpgsql
    """)
    op.execute(f"CREATE TRIGGER {FROZEN} BEFORE UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {FROZEN}()")


def downgrade() -> None:
    op.drop_table(TABLE)
    op.execute(f"DROP FUNCTION IF EXISTS {FROZEN}()")
