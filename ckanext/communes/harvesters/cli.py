"""``ckan communes harvest ...``: the harvest workers as `make run` and docker/ start them.

Thin: the logic is in workers.py and actions.py."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import ckan.plugins.toolkit as tk
import click

from ckanext.communes.harvesters import actions, credentials, workers
from ckanext.communes.net import secrets as secret_box


def _app_context(ctx: click.Context) -> Any:
    """A request context per message / round: tk._ and url_for work, and state does not leak."""
    flask_app = ctx.meta.get("flask_app")
    return (lambda: flask_app.test_request_context()) if flask_app is not None else None


def _log_to_stderr() -> None:
    # The workers say what they do (reconnections, stops) even when the ini logs only warnings.
    logger = logging.getLogger("ckanext.communes.harvesters")  # workers, stages, stale jobs
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
        logger.addHandler(handler)


@click.group()
def harvest() -> None:
    """Harvest workers and runs (on ckanext-harvest's queues and jobs)."""


def _worker_options(func: Any) -> Any:
    func = click.option("--block-seconds", type=click.IntRange(1, 300), default=5, show_default=True,
                        help="Server-side wait of each BLPOP (shorter than the socket timeout).")(func)
    func = click.option("--socket-timeout", type=click.FloatRange(2, 3600), default=30.0, show_default=True,
                        help="Redis socket timeout, seconds.")(func)
    return func


def _run_worker(ctx: click.Context, kind: str, block_seconds: int, socket_timeout: float) -> None:
    _log_to_stderr()
    try:
        settings = workers.WorkerSettings(block_seconds=block_seconds, socket_timeout=socket_timeout)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    worker = workers.make_worker(kind, settings, app_context=_app_context(ctx))
    worker.install_signal_handlers()
    worker.run()


@harvest.command("gather-worker")
@_worker_options
@click.pass_context
def gather_worker(ctx: click.Context, block_seconds: int, socket_timeout: float) -> None:
    """Consume the gather queue (replaces `ckan harvester gather-consumer`)."""
    _run_worker(ctx, workers.GATHER, block_seconds, socket_timeout)


@harvest.command("fetch-worker")
@_worker_options
@click.pass_context
def fetch_worker(ctx: click.Context, block_seconds: int, socket_timeout: float) -> None:
    """Consume the fetch queue (replaces `ckan harvester fetch-consumer`); run several to go faster."""
    _run_worker(ctx, workers.FETCH, block_seconds, socket_timeout)


@harvest.command("run-periodic")
@click.option("--every", type=click.FloatRange(1, 86400), default=60, show_default=True,
              help="Seconds between two rounds.")
@click.option("--once", is_flag=True, help="One round, then exit.")
@click.pass_context
def run_periodic(ctx: click.Context, every: float, once: bool) -> None:
    """Start due jobs, close finished and stale ones, resubmit lost messages (harvest_jobs_run), then run the
    portal's due scheduled tasks (link re-checks, quality recompute: /communes/taches-planifiees), in a loop."""
    _log_to_stderr()
    stop = threading.Event()
    workers.install_stop_signals(stop)
    workers.run_periodic(every, stop, app_context=_app_context(ctx), once=once)


@harvest.command("run")
@click.argument("source")
@click.option("--sync", is_flag=True,
              help="Gather, fetch and import here and now, without the queues; the job is closed whatever happens.")
@click.pass_context
def run(ctx: click.Context, source: str, sync: bool) -> None:
    """Start a job for SOURCE (id or name): queued for the workers, or run here with --sync."""
    flask_app = ctx.meta["flask_app"]
    with flask_app.test_request_context():
        try:
            if sync:
                job = actions.run_source_sync(source)
            else:
                found = actions.find_source(source)
                job = tk.get_action("harvest_job_create")(workers.site_user_context(),
                                                          {"source_id": found.id, "run": True})
        except tk.ObjectNotFound as error:
            tk.error_shout(str(error) or source)
            raise click.exceptions.Exit(1) from None
        except tk.ValidationError as error:
            for messages in error.error_dict.values():
                for message in messages if isinstance(messages, list) else [messages]:
                    tk.error_shout(str(message))
            raise click.exceptions.Exit(1) from None
    stats = job.get("stats") or {}
    click.echo("job {id}: {status}".format(id=job["id"], status=job["status"]))
    if sync:
        click.echo(", ".join(f"{key}: {value}" for key, value in sorted(stats.items())) or "no object")
        # harvest_job_show gives the gather errors as a summary: each distinct message (the 20 most
        # frequent) with its count.
        gather_errors = job.get("gather_error_summary") or []
        for error in gather_errors:
            count = error.get("error_count") or 1
            click.echo(f"  gather error: {error.get('message')}" + (f" (x{count})" if count > 1 else ""))
        if gather_errors or stats.get("errored"):
            raise click.exceptions.Exit(2)


def _as_site_user() -> dict[str, Any]:
    return {"user": tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]}


@harvest.command("preview")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="The whole dry run as JSON.")
@click.pass_context
def preview(ctx: click.Context, source: str, as_json: bool) -> None:
    """Dry run of SOURCE (id or name): what a job would create, update, leave unchanged and withdraw."""
    import json

    with ctx.meta["flask_app"].test_request_context():
        try:
            result = tk.get_action("communes_harvest_preview")(_as_site_user(), {"id": source})
        except (tk.ObjectNotFound, tk.ValidationError) as error:
            tk.error_shout(str(error))
            raise click.exceptions.Exit(1) from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1, default=str))
        return
    click.echo(", ".join(f"{decision}: {count}" for decision, count in result["counts"].items()))
    for commune, counts in result["per_commune"].items():
        click.echo(f"  {commune or '-'}: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if result["breaker"]:
        click.echo(f"circuit breaker: {result['breaker']}")
    for message in result["messages"]:
        click.echo(f"  [{message['level']}] {message['message']}")


@harvest.command("approve-withdrawal")
@click.argument("job_id")
@click.pass_context
def approve_withdrawal(ctx: click.Context, job_id: str) -> None:
    """Withdraw the datasets the circuit breaker held back in JOB_ID."""
    with ctx.meta["flask_app"].test_request_context():
        try:
            result = tk.get_action("communes_harvest_approve_withdrawal")(_as_site_user(), {"id": job_id})
        except (tk.ObjectNotFound, tk.ValidationError) as error:
            tk.error_shout(str(error))
            raise click.exceptions.Exit(1) from None
    click.echo(f"{len(result['withdrawn'])} datasets withdrawn")


@harvest.command("migrate-config")
@click.option("--dry-run", is_flag=True, help="Say what would change, write nothing.")
@click.pass_context
def migrate_config(ctx: click.Context, dry_run: bool) -> None:
    """Rename, in the sources' stored configurations, the keys a source type renamed (udata: "organization"
    -> "udata_organization") and reindex them; list keys still named like a field of the source. Idempotent.
    Exits 1 when such keys remain (an operator renames them)."""
    from ckanext.communes.harvesters import config_migration

    with ctx.meta["flask_app"].test_request_context():
        report = config_migration.migrate_source_configs(dry_run=dry_run)
    for line in report.lines():
        click.echo(line)
    if report.shadowing:
        raise click.exceptions.Exit(1)


@click.group()
def secrets() -> None:
    """Encryption of the harvest sources' stored passwords (option ckanext.communes.secrets_key)."""


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new key for ckanext.communes.secrets_key (put it first, keep the old ones after it until
    `rotate` has run)."""
    click.echo(secret_box.generate_key())


@secrets.command("rotate")
@click.option("--dry-run", is_flag=True, help="Count what would change, write nothing.")
def rotate(dry_run: bool) -> None:
    """Encrypt every stored source password with the first key: those stored in clear (bound to the
    source's current URL) and those under an older key; mask the activities that kept one. Idempotent.
    Exits 1 when a password cannot be decrypted with any configured key (it must be typed again)."""
    try:
        rotation = credentials.rotate_stored_passwords(dry_run=dry_run)
    except secret_box.SecretError as error:
        tk.error_shout(error.message)
        raise click.exceptions.Exit(1) from None
    undecryptable = list(dict.fromkeys(rotation.undecryptable))
    click.echo("Stored passwords (harvest_source.config and the source datasets' config extra):")
    click.echo(f"  encrypted (were in clear): {rotation.encrypted}")
    click.echo(f"  re-encrypted with the first key: {rotation.reencrypted}")
    click.echo(f"  already encrypted with the first key: {rotation.current}")
    click.echo(f"  undecryptable (key missing): {len(rotation.undecryptable)}"
               + (f" - sources: {', '.join(undecryptable)}" if undecryptable else ""))
    click.echo(f"activities masked: {rotation.activities_masked} (recorded with a source's password)")
    if dry_run:
        click.echo("(dry run: nothing written)")
    if undecryptable:
        tk.error_shout("Some passwords cannot be decrypted: restore the key that encrypted them (after the first "
                       "one), or type the passwords again in the sources' configuration.")
        raise click.exceptions.Exit(1)




@click.group()
def licences() -> None:
    """Licences of the stored datasets (issue #22)."""


@licences.command("renormalise")
@click.option("--apply", "apply_changes", is_flag=True,
              help="Write the changes (without it: a dry run, the report of what would change).")
def renormalise_command(apply_changes: bool) -> None:
    """Recognise again the licences stored as raw text or as « licence non reconnue » (normaliser, source type
    convention, operators' aliases). Dry run unless --apply; a second run changes nothing."""
    from ckanext.communes.harvesters import renormalise

    result = renormalise.run(apply_changes)
    click.echo(("Applied" if apply_changes else "Dry run (nothing written; --apply to write)") + ":")
    for text, old, new, count in result["summary"]:
        click.echo(f"  {text!r}: {count} dataset(s), {old} -> {new}")
    written = len(result["changes"]) - len(result["failed"]) if apply_changes else 0
    for change, error in result["failed"]:
        click.echo(f"  FAILED {change.name}: {error}", err=True)
    click.echo(f"{len(result['changes'])} dataset(s) to change, {written} changed, {len(result['failed'])} failed.")
    if result["failed"]:
        sys.exit(1)


def get_commands() -> list[Any]:
    return [harvest, secrets, licences]
