"""The quality room's commands, registered by the CLI root (ckanext/communes/cli.py):
`ckan communes quality recompute` (the score of every dataset, or of one commune's) and
`ckan communes linkcheck` (the resource links, `--due` for the schedule)."""

from __future__ import annotations

import click


@click.group(short_help="Quality score of the datasets.")
def quality() -> None:
    """Quality score of the datasets (criteria: ckanext/communes/quality/data/criteria.yaml)."""


def dataset_ids(commune: str | None) -> list[str]:
    from ckan import model

    query = model.Session.query(model.Package.id).filter(
        model.Package.state == "active", model.Package.type == "dataset")
    if commune:
        from ckanext.communes.communes.programme import commune_group_for

        group = commune_group_for(commune)
        if group is None:
            raise click.BadParameter(f"no commune or organisation {commune!r}", param_hint="--commune")
        query = query.filter(model.Package.owner_org == group.id)
    return [row.id for row in query.order_by(model.Package.name)]


@quality.command()
@click.option("--commune", help="INSEE code, SIREN or organisation name: only its datasets.")
@click.option("--shacl", is_flag=True, help="Also run the DCAT-AP SHACL check now (slow), not in the background.")
def recompute(commune: str | None, shacl: bool) -> None:
    """Recompute the score of the datasets and reindex them."""
    from ckan.lib import search

    from ckanext.communes.quality import evidence
    from ckanext.communes.quality import shacl as shacl_check

    evidence.clear_cache()  # results may have been written behind our back: compute afresh
    ids = dataset_ids(commune)
    with click.progressbar(ids, label="Datasets") as bar:
        for package_id in bar:
            if shacl:
                shacl_check.check_dataset(package_id)  # reindexes when the outcome changed
            search.rebuild(package_id, defer_commit=True)
    search.commit()
    click.echo(f"{len(ids)} dataset(s) recomputed.")


@quality.command()
@click.option("--sync", is_flag=True, help="Check them now in this process instead of queueing a drain job.")
def drain(sync: bool) -> None:
    """Check the datasets waiting for their quality checks (after a worker died, or for the schedule)."""
    from ckanext.communes.quality import background

    waiting = background.waiting_count()
    if sync:
        checked, failed, _left = background.drain()
        click.echo(f"{checked} dataset(s) checked, {len(failed)} with a failed check.")
    else:
        background.enqueue_drain(background.BULK_QUEUE)
        click.echo(f"{waiting} dataset(s) waiting; a drain job is queued for `ckan jobs worker`.")


@click.group(short_help="Link checks of the resources.", invoke_without_command=True)
@click.option("--commune", help="INSEE code or organisation name: only this commune's datasets.")
@click.option("--sync", is_flag=True, help="Check now in this process instead of enqueueing jobs.")
@click.option("--due", is_flag=True, help="Only the datasets whose links are due for a check (for cron).")
@click.pass_context
def linkcheck(ctx: click.Context, commune: str | None, sync: bool, due: bool) -> None:
    """Check the resource links of every dataset (or one commune's): jobs for `ckan jobs worker`, or --sync."""
    from ckanext.communes.quality import evidence
    from ckanext.communes.quality import linkcheck as link_jobs

    if ctx.invoked_subcommand is not None:
        return
    ids = dataset_ids(commune)
    if due:
        wanted = set(link_jobs.due_dataset_ids())
        ids = [i for i in ids if i in wanted]
    links = 0
    for package_id in ids:
        if sync:
            link_jobs.check_dataset_now(package_id)
            links += len(evidence.link_results_for(package_id))
        else:
            links += link_jobs.enqueue_dataset(package_id)
    if sync:
        broken = sum(1 for pid in ids for r in evidence.link_results_for(pid).values() if r.ok is False)
        click.echo(f"{len(ids)} dataset(s), {links} link(s) checked, {broken} broken.")
    else:
        click.echo(f"{len(ids)} dataset(s), {links} link(s) enqueued for `ckan jobs worker`.")
