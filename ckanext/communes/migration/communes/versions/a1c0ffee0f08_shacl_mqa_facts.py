"""The MQA facts of each dataset's DCAT graph (issue #25), stored with its SHACL result: quality/mqa_facts.py
reads them in the graph the SHACL check builds, quality/mqa.py aggregates them. Rows checked before this
revision have none: their datasets are "pending" for the MQA until their next check
(``ckan communes quality recompute --shacl`` checks every dataset again).

Revision ID: a1c0ffee0f08
Revises: a1c0ffee0e07
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "a1c0ffee0f08"
down_revision = "a1c0ffee0e07"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communes_shacl_check", sa.Column("mqa_facts", JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("communes_shacl_check", "mqa_facts")
