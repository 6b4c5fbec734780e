"""The operators' licence aliases (issue #22): licences/model.py's table, read by licences/aliases.py.

Revision ID: a1c0ffee0e07
Revises: a1c0ffee0d06
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "a1c0ffee0e07"
down_revision = "a1c0ffee0d06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communes_licence_alias",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alias", sa.UnicodeText, nullable=False),
        sa.Column("alias_key", sa.UnicodeText, nullable=False, unique=True),
        sa.Column("licence_id", sa.UnicodeText, nullable=False),
        sa.Column("created_by", sa.UnicodeText, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("communes_licence_alias")
