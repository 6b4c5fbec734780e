"""Quality results kept by ckanext-communes: link checks, SCDL validations and DCAT-AP SHACL checks, one
row per resource (or dataset), replaced by each new check.

Revision ID: a1c0ffee0002
Revises: a1c0ffee0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "a1c0ffee0002"
down_revision = "a1c0ffee0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communes_link_check",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("package_id", sa.UnicodeText, nullable=False, index=True),
        sa.Column("url", sa.UnicodeText, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),  # HTTP status of the last check, None: no answer
        sa.Column("final_url", sa.UnicodeText, nullable=True),
        sa.Column("media_type", sa.UnicodeText, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("error", sa.UnicodeText, nullable=True),  # French reason when broken
        sa.Column("checked_at", sa.DateTime, nullable=True),
        sa.Column("failing_since", sa.DateTime, nullable=True),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_check_at", sa.DateTime, nullable=True, index=True),
    )
    op.create_table(
        "communes_scdl_validation",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("package_id", sa.UnicodeText, nullable=False, index=True),
        sa.Column("schema_url", sa.UnicodeText, nullable=False),
        sa.Column("valid", sa.Boolean, nullable=True),  # None: could not be validated (see error)
        sa.Column("error_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors_by_type", JSONB, nullable=False, server_default="{}"),
        sa.Column("first_errors", JSONB, nullable=False, server_default="[]"),
        sa.Column("rows_checked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.UnicodeText, nullable=True),
        sa.Column("checked_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "communes_shacl_check",
        sa.Column("package_id", sa.UnicodeText, primary_key=True),
        sa.Column("conforms", sa.Boolean, nullable=True),
        sa.Column("violations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("messages", JSONB, nullable=False, server_default="[]"),
        sa.Column("checked_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("communes_shacl_check")
    op.drop_table("communes_scdl_validation")
    op.drop_table("communes_link_check")
