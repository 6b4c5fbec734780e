"""What every benchmark script shares: its command line's common options, the CKAN app it measures (and
the refusal to wipe anything but a test database), an empty portal with a sysadmin and communes, and the
datasets a source type would save (the harvest benchmarks' ``package_create`` floor)."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

BRON = {
    "name": "bron", "title": "Bron", "insee_code": "69029", "siren": "216900290", "kind": "commune",
    "official_name": "Commune de Bron", "referent_email": "opendata@ville-bron.fr",
}
MIONS = {
    "name": "mions", "title": "Mions", "insee_code": "69283", "siren": "216902833", "kind": "commune",
    "official_name": "Commune de Mions",
}


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A script's parser with the options they all take: ``--ckan-ini`` and ``--allow-wipe``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckan-ini", required=True)
    parser.add_argument("--allow-wipe", action="store_true",
                        help="wipe the database even if its name does not end in _test")
    return parser


def load_app(ini: str, extra_plugins: str = "") -> Any:
    """CKAN's app from an ini file, the way the ckan CLI builds it (config, plugins, environment), with
    ``extra_plugins`` appended to ``ckan.plugins`` (a baseline such as ckanext-dcat's stock harvester)."""
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    config = load_config(ini)
    if extra_plugins:
        config["ckan.plugins"] = f"{config['ckan.plugins']} {extra_plugins}"
    return make_app(config)


def open_app(args: argparse.Namespace, extra_plugins: str = "") -> Any | None:
    """The Flask app to measure, or None (said on stderr) when the database may not be wiped."""
    import logging

    app = load_app(args.ckan_ini, extra_plugins)
    if not may_wipe(database_name(), args.allow_wipe):
        print(f"Refusing to wipe database {database_name()!r}: its name does not end in _test "
              "(pass --allow-wipe to wipe it anyway).", file=sys.stderr)
        return None
    logging.getLogger("ckan.lib.datapreview").setLevel(logging.ERROR)  # "view plugin not found" noise
    return app._wsgi_app if hasattr(app, "_wsgi_app") else app


def database_name() -> str:
    import ckan.plugins.toolkit as tk
    from sqlalchemy.engine import make_url

    return make_url(tk.config.get("sqlalchemy.url", "")).database or ""


def may_wipe(database: str, allow_wipe: bool) -> bool:
    """Only a test database (name ending in _test) is wiped without --allow-wipe: pointed at a real
    portal's ini by mistake, a benchmark must not erase it."""
    return allow_wipe or database.endswith("_test")


def wipe() -> None:
    from ckan import model
    from ckan.lib import search

    model.repo.delete_all()
    model.repo.commit()
    search.clear_all()


def make_sysadmin() -> str:
    import ckan.plugins.toolkit as tk
    from ckan import model

    name = f"bench-{uuid.uuid4().hex[:8]}"
    tk.get_action("user_create")(
        {"ignore_auth": True}, {"name": name, "email": f"{name}@example.org", "password": uuid.uuid4().hex}
    )
    model.User.get(name).sysadmin = True
    model.repo.commit()
    return name


def setup_portal() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A sysadmin and two commune organisations (on whatever the database holds)."""
    import ckan.plugins.toolkit as tk

    name = make_sysadmin()
    bron = tk.get_action("organization_create")({"user": name}, dict(BRON))
    mions = tk.get_action("organization_create")({"user": name}, dict(MIONS))
    return name, bron, mions


def fresh_portal() -> tuple[str, dict[str, Any]]:
    """Empty database and index, a sysadmin, the commune of Bron."""
    import ckan.plugins.toolkit as tk

    wipe()
    name = make_sysadmin()
    return name, tk.get_action("organization_create")({"user": name}, dict(BRON))


def make_source(user: str, org_id: str, url: str, source_type: str) -> str:
    import ckan.plugins.toolkit as tk

    source = tk.get_action("harvest_source_create")({"user": user}, {
        "name": f"src-{uuid.uuid4().hex[:8]}", "title": "Banc d'essai", "url": url, "source_type": source_type,
        "owner_org": org_id})
    return source["id"]


def mapped_datasets(source_type: str, url: str, org_id: str, config: dict[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
    """The dataset dicts our harvester of ``source_type`` would save from the source (dry: nothing
    written), owned by ``org_id``: what the ``package_create`` floor saves."""
    from ckanext.communes.harvesters.base import GatherContext, harvester_for
    from ckanext.communes.harvesters.mapping import map_to_schema
    from ckanext.communes.harvesters.report import ReportBuilder
    from ckanext.communes.net import fetch as guarded

    config = config or {}
    harvester = harvester_for(source_type)
    ctx = GatherContext(None, "", url, org_id, config, guarded.limits_from_config(config), ReportBuilder())
    datasets = []
    for page in harvester.pages(ctx):
        for record in page.records():
            dataset = map_to_schema(record.dataset).dataset
            dataset["owner_org"] = org_id
            datasets.append(dataset)
    return datasets


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result
