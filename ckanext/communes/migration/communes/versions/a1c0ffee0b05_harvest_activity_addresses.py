"""Activities of harvest sources recorded before the guarded client stopped naming the private address a
host resolves to: the source's status they keep (its last job's error summary) may hold one, and the
activity streams show it to the source's readers. The addresses are replaced by « … »
(harvesters/job_reading.py).

Revision ID: a1c0ffee0b05
Revises: a1c0ffee0b04
Create Date: 2026-12-07
"""

from alembic import op

revision = "a1c0ffee0b05"
down_revision = "a1c0ffee0b04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ckanext.communes.harvesters.job_reading import hide_addresses_in_source_activities

    hide_addresses_in_source_activities(op.get_bind())


def downgrade() -> None:
    # Nothing to undo: the addresses are not kept anywhere (the log of the time had them).
    pass
