"""`ckan communes quality ...`: recompute the quality score of every dataset (or of one commune's)."""

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

    from ckanext.communes.quality import score
    from ckanext.communes.quality import shacl as shacl_check

    score.clear_cache()  # results may have been written behind our back: compute afresh
    ids = dataset_ids(commune)
    with click.progressbar(ids, label="Datasets") as bar:
        for package_id in bar:
            if shacl:
                shacl_check.check_dataset(package_id)  # reindexes when the outcome changed
            search.rebuild(package_id, defer_commit=True)
    search.commit()
    click.echo(f"{len(ids)} dataset(s) recomputed.")
