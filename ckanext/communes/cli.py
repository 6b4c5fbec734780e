"""The CLI root, in the wiring layer: `ckan communes ...`, to which each room adds its own commands (seed and
conventions from communes/, harvest and secrets from harvesters/, quality and linkcheck from quality/, bilan from
bilan/, formats from schema/). No room imports this module."""

from __future__ import annotations

import os
from typing import Any

import click

from ckanext.communes.bilan import cli as bilan_cli
from ckanext.communes.communes import cli as commune_cli
from ckanext.communes.dataapi import cli as dataapi_cli
from ckanext.communes.harvesters import cli as harvest_cli
from ckanext.communes.quality import cli as quality_cli
from ckanext.communes.schema import cli as schema_cli


@click.group(short_help="Communes of the Métropole de Lyon: seeding, conventions.")
def communes() -> None:
    """Communes of the Métropole de Lyon and their open-data programme."""


# pg_advisory_lock's key for the start-up: one container at a time migrates, creates the sysadmin and seeds.
STARTUP_LOCK = 727_210_001


def _pending_migrations() -> list[str]:
    """Core and plugins whose database schema is behind (ckan db upgrade's own reading)."""
    from ckan.cli import db as ckan_db

    pending = [] if (ckan_db.current_revision(None) or "").endswith("(head)") else ["core"]
    return pending + sorted(ckan_db._get_pending_plugins())


def _ensure_sysadmin(name: str, email: str, password: str) -> str:
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    user = model.User.get(name)
    if user is None:
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
        try:
            tk.get_action("user_create")({"ignore_auth": True, "user": site_user},
                                         {"name": name, "email": email, "password": password})
        except tk.ValidationError as error:
            # The error names the field (password too short, name taken by a deleted user...).
            raise click.ClickException(f"sysadmin {name!r} not created: {error.error_summary}") from None
        user = model.User.get(name)
        outcome = "created"
    else:
        outcome = "kept (its password is not changed here)"
    if not user.sysadmin:
        user.sysadmin = True
        model.repo.commit()
    return outcome


@click.command()
@click.option("--sysadmin-name", envvar="CKAN_SYSADMIN_NAME", required=True, help="[env CKAN_SYSADMIN_NAME]")
@click.option("--sysadmin-email", envvar="CKAN_SYSADMIN_EMAIL", required=True, help="[env CKAN_SYSADMIN_EMAIL]")
@click.pass_context
def startup(ctx: click.Context, sysadmin_name: str, sysadmin_email: str) -> None:
    """What every container of docker/ runs before its service (docker/entrypoint.sh): under a PostgreSQL
    advisory lock, the database migrations (core and plugins: activity, harvest, communes), the sysadmin
    (created if missing, password from the environment variable CKAN_SYSADMIN_PASSWORD, never an argument),
    the communes seeded, the sources' configuration keys renamed. Idempotent: the containers that start
    after the first one find nothing to do."""
    import sqlalchemy as sa
    from ckan import model
    from ckan.cli import db as ckan_db
    from ckan.common import config

    password = os.environ.get("CKAN_SYSADMIN_PASSWORD", "")
    if not password.strip():
        raise click.ClickException("CKAN_SYSADMIN_PASSWORD is missing or empty.")
    # Containers load CKAN together on a fresh database: CKAN's load_environment creates the site user and, when
    # another container created it first, catches the IntegrityError without rolling back, leaving this
    # process's session unusable (its next flush failed, once). Start from a clean session.
    model.Session.remove()
    engine = sa.create_engine(config["sqlalchemy.url"], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as lock:
            lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
            try:
                pending = _pending_migrations()
                if pending:
                    ctx.invoke(ckan_db.upgrade, version="head", plugin=None, skip_core=False, skip_plugins=False)
                    click.echo(f"startup: migrations applied ({', '.join(pending)})")
                else:
                    click.echo("startup: database up to date")
                with ctx.meta["flask_app"].test_request_context():
                    outcome = _ensure_sysadmin(sysadmin_name, sysadmin_email, password)
                    click.echo(f"startup: sysadmin {sysadmin_name} {outcome}")
                    _seed(ctx)
                    _loader_token(sysadmin_name)
                _migrate_source_configs(ctx, harvest_cli.migrate_config)
            finally:
                lock.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
    finally:
        engine.dispose()


def _seed(ctx: click.Context) -> None:
    click.echo("startup: communes seeded: ", nl=False)
    ctx.invoke(commune_cli.seed, force=False, path=None)


def _loader_token(sysadmin_name: str) -> None:
    """The DataStore loader's API token, in this container's ini (when xloader is loaded)."""
    import ckan.plugins as p
    from ckan.common import config

    if p.plugin_loaded("xloader") and config.get("__file__"):
        outcome = dataapi_cli.ensure_loader_token(sysadmin_name, config["__file__"])
        click.echo(f"startup: xloader API token {outcome}")


def _migrate_source_configs(ctx: click.Context, command: Any) -> None:
    """Configuration keys a source type renamed, renamed in the saved sources (issue #18). Keys still named
    like a field of the source are listed for an operator: a warning, not a reason to stay down."""
    try:
        ctx.invoke(command, dry_run=False)
    except click.exceptions.Exit as stop:
        if stop.exit_code:
            click.echo("WARNING: some harvest source configurations need an operator (see above).", err=True)


def get_commands() -> list[click.Command]:
    communes.add_command(startup)
    for command in [*commune_cli.get_commands(), *harvest_cli.get_commands(), quality_cli.quality,
                    quality_cli.linkcheck, bilan_cli.bilan, *schema_cli.get_commands(), *dataapi_cli.get_commands()]:
        communes.add_command(command)
    return [communes]
