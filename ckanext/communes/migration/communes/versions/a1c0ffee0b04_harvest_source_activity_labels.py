"""Activities of harvest sources recorded before harvesters/visibility.py labelled sources: CKAN gave them
the label "public", so every activity stream showed a source's URL and configuration to anyone. They get
the labels of the source (operators, and the members of its organisation).

Revision ID: a1c0ffee0b04
Revises: a1c0ffee0003
Create Date: 2026-12-06
"""

from alembic import op

revision = "a1c0ffee0b04"
down_revision = "a1c0ffee0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ckanext.communes.harvesters.visibility import relabel_source_activities

    relabel_source_activities(op.get_bind())


def downgrade() -> None:
    # Nothing to undo: the labels are the sources' own, and CKAN's "public" would expose them again.
    pass
