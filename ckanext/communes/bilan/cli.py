"""``ckan communes bilan ...`` commands."""

from __future__ import annotations

import click


@click.group(short_help="The programme's assessment (bilan): snapshots.")
def bilan() -> None:
    """The programme's assessment (bilan)."""
