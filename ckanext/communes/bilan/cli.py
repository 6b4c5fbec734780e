"""``ckan communes bilan ...``: take, list, show and compare snapshots of the programme's assessment.

    ckan communes bilan snapshot --label "Bilan phase 1"
    ckan communes bilan list
    ckan communes bilan show ID [--group-by phase] [--format csv|json]
    ckan communes bilan compare A [B]        (B missing: today)
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def _in_request(ctx: click.Context) -> Any:
    """A request context, so that tk._ answers in the portal's default language (French)."""
    flask_app = ctx.meta.get("flask_app")
    if flask_app is None:
        import contextlib

        return contextlib.nullcontext()
    return flask_app.test_request_context()


def _fail(error: Exception) -> None:
    import ckan.plugins.toolkit as tk

    if isinstance(error, tk.ValidationError):
        message = "; ".join(str(m) for messages in error.error_dict.values() for m in messages)
    else:
        message = str(error)
    click.secho(message, fg="red", err=True)
    raise click.exceptions.Exit(1)


@click.group(short_help="The programme's assessment (bilan): snapshots.")
def bilan() -> None:
    """The programme's assessment (bilan): snapshots frozen with a label, listed, shown, compared."""


@bilan.command()
@click.option("--label", required=True, help="Name of the snapshot (at most 200 characters).")
@click.option("--user", "user_name", help="Recorded as its author (default: the site user).")
@click.pass_context
def snapshot(ctx: click.Context, label: str, user_name: str | None) -> None:
    """Freeze today's indicators of every commune and group under LABEL."""
    import ckan.plugins.toolkit as tk
    from ckan import model

    from ckanext.communes.bilan import snapshots

    with _in_request(ctx):
        user = model.User.get(user_name) if user_name else None
        if user_name and user is None:
            # The author is shown with the snapshot, which is never changed: no name of nobody.
            _fail(ValueError(tk._("Unknown user: {name}.").format(name=user_name[:100])))
            return
        author = user.name if user is not None else tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
        try:
            meta = snapshots.create(label, author)
        except tk.ValidationError as error:
            _fail(error)
            return
        click.echo(f"{meta['id']}\t{meta['created']}\t{meta['label']}")


@bilan.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """The snapshots, newest first: id, date, author, label."""
    from ckanext.communes.bilan import snapshots

    with _in_request(ctx):
        found = snapshots.list_snapshots()
        for meta in found:
            click.echo(f"{meta['id']}\t{meta['created']}\t{meta['created_by']}\t{meta['label']}")
        click.echo(f"{len(found)} snapshot(s).")


@bilan.command()
@click.argument("snapshot_id")
@click.option("--group-by", type=click.Choice(["commune", "phase"]), default="commune", show_default=True)
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.pass_context
def show(ctx: click.Context, snapshot_id: str, group_by: str, file_format: str) -> None:
    """A snapshot's figures on standard output (JSON, or CSV for a spreadsheet)."""
    import ckan.plugins.toolkit as tk

    from ckanext.communes.bilan import exports, snapshots

    with _in_request(ctx):
        try:
            shown = snapshots.show(snapshot_id, group_by)
        except tk.ObjectNotFound as error:
            _fail(error)
            return
        writer = exports.to_csv if file_format == "csv" else exports.to_json
        sys.stdout.buffer.write(writer(shown))
        sys.stdout.buffer.flush()


@bilan.command()
@click.argument("a")
@click.argument("b", required=False)
@click.option("--group-by", type=click.Choice(["commune", "phase"]), default="commune", show_default=True)
@click.option("--all-rows", is_flag=True, help="Also the rows where nothing changed.")
@click.pass_context
def compare(ctx: click.Context, a: str, b: str | None, group_by: str, all_rows: bool) -> None:
    """Differences between snapshot A and snapshot B (today when B is missing), per row and indicator."""
    import ckan.plugins.toolkit as tk

    from ckanext.communes.bilan import snapshots

    with _in_request(ctx):
        try:
            result = snapshots.compare(a, b, group_by)
        except tk.ObjectNotFound as error:
            _fail(error)
            return
        click.echo(f"A: {result['a']['label']} ({result['a']['created']})  B: {result['b']['label']} "
                   f"({result['b']['created']})")
        for row in result["rows"]:
            if not row["changed"] and not all_rows:
                continue
            changes = ", ".join(
                f"{key}: {json.dumps(row['changes'][key]['a'])} -> {json.dumps(row['changes'][key]['b'])}"
                for key in row["changed"])
            click.echo(f"{row['key']}\t{row['name']}\t{changes or '='}")
        click.echo(f"{result['changed_rows']} row(s) changed.")
