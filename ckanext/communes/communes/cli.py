"""`ckan communes ...` commands."""

from __future__ import annotations

import click


@click.group(short_help="Communes of the Métropole de Lyon: seeding, conventions.")
def communes() -> None:
    """Communes of the Métropole de Lyon and their open-data programme."""


def get_commands() -> list[click.Command]:
    return [communes]
