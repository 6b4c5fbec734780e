"""The CLI root, in the wiring layer: `ckan communes ...`, to which each room adds its own commands (seed and
conventions from communes/, harvest and secrets from harvesters/, quality and linkcheck from quality/, bilan from
bilan/). No room imports this module."""

from __future__ import annotations

import click

from ckanext.communes.bilan import cli as bilan_cli
from ckanext.communes.communes import cli as commune_cli
from ckanext.communes.harvesters import cli as harvest_cli
from ckanext.communes.quality import cli as quality_cli


@click.group(short_help="Communes of the Métropole de Lyon: seeding, conventions.")
def communes() -> None:
    """Communes of the Métropole de Lyon and their open-data programme."""


def get_commands() -> list[click.Command]:
    for command in [*commune_cli.get_commands(), *harvest_cli.get_commands(), quality_cli.quality, quality_cli.linkcheck,
                    bilan_cli.bilan]:
        communes.add_command(command)
    return [communes]
