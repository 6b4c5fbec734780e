"""The datasets waiting for their quality checks (issue #20): quality/background.py's queue of record.

Revision ID: a1c0ffee0d06
Revises: a1c0ffee0b05
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "a1c0ffee0d06"
down_revision = "a1c0ffee0b05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communes_quality_pending",
        sa.Column("package_id", sa.UnicodeText, primary_key=True),
        sa.Column("priority", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.UnicodeText, nullable=True),
        sa.Column("claimed_at", sa.DateTime, nullable=True),
        sa.Column("checked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # The drain's order: an editor's saves first, then the oldest.
    op.create_index("communes_quality_pending_order", "communes_quality_pending", ["priority", "queued_at"])


def downgrade() -> None:
    op.drop_table("communes_quality_pending")
