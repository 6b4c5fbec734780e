"""The dataset schema's commands, registered by the CLI root (ckanext/communes/cli.py):
`ckan communes formats migrate [--apply]` (resource formats stored as EU URIs before issue #23 rewritten as
short codes)."""

from __future__ import annotations

import click


@click.group(short_help="Resource formats of the datasets.")
def formats() -> None:
    """Resource formats: stored as short codes (CSV, GeoJSON, WFS), written as EU URIs in DCAT."""


@formats.command()
@click.option("--apply", "apply_changes", is_flag=True, help="Write the codes and reindex (default: dry run).")
@click.pass_context
def migrate(ctx: click.Context, apply_changes: bool) -> None:
    """Rewrite the resource formats stored as EU file-type URIs (or any other spelling of a file type) as the
    short code the schema stores, and reindex the datasets touched; a report per stored value (count, old ->
    new). Dry run unless --apply. No activity, no new metadata_modified. Idempotent."""
    from ckanext.communes.schema.format_migration import migrate_formats

    with ctx.meta["flask_app"].test_request_context():
        report = migrate_formats(apply=apply_changes)
    for line in report.lines():
        click.echo(line)


def get_commands() -> list[click.Command]:
    return [formats]
