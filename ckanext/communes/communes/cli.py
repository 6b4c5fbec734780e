"""The communes room's commands under `ckan communes` (cli.py, the root): seed the organisations, list
conventions ending soon."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import click

from ckanext.communes.communes import registry, seeding


@click.command()
@click.option("--force", is_flag=True, help="Overwrite fields changed since the last seed.")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="Another communes CSV (same columns as the bundled one).")
def seed(force: bool, path: str | None) -> None:
    """Create or update the Métropole and its communes as organisations (idempotent)."""
    source = path or registry.DATA_FILE
    try:
        report = seeding.seed(path=source, force=force)
    except registry.DataFileError as error:
        click.secho(f"{source}: line {error.line}: {error.message}. Nothing was changed.", fg="red", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(report.counts())
    if report.kept:
        click.echo(f"kept {len(report.kept)} value(s) changed since the last seed (use --force to overwrite):")
        for org_name, field_name in report.kept:
            click.echo(f"  {org_name}: {field_name}")


@click.command()
@click.option("--expiring-within", "days", type=click.IntRange(min=0), default=60, show_default=True,
              help="Days ahead: conventions ending within this many days, or already ended.")
def conventions(days: int) -> None:
    """List framework conventions that end within N days or have ended."""
    found = tk.get_action("commune_list")(
        {"ignore_auth": True}, {"expiring_within_days": days, "kind": "all", "limit": 1000}
    )
    if not found["count"]:
        click.echo(f"No convention ends within {days} days, none has ended.")
        return
    for item in found["results"]:
        convention = item["convention"]
        days_left = convention["days_left"]
        when = f"ended {-days_left} day(s) ago" if days_left < 0 else f"ends in {days_left} day(s)"
        click.echo(f"{item['name']}\t{item['insee_code'] or item['siren'] or ''}\t{convention['end']}\t{when}")
    click.echo(f"{found['count']} convention(s) ending within {days} days or ended.")


def get_commands() -> list[click.Command]:
    return [seed, conventions]
