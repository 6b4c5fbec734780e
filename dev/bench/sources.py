"""Per source type benchmark (issue #9): Opendatasoft, udata and CSW on generated catalogues served by the
tests' fixture server (a real HTTP server on 127.0.0.1, the same fake APIs the tests use).

    python dev/bench/sources.py --ckan-ini test.ini [--datasets 1000]

For each type, on an empty database: (a) the floor, package_create of the datasets our harvester would save;
(b) the first harvest; (c) the same source again, unchanged. And the CSW harvester with page size 100 vs 10
on the same records (dry run: HTTP round trips and time). WIPES the database (refused unless its name ends
in ``_test``, or ``--allow-wipe``).
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harvest import fresh_portal, make_source, timed  # noqa: E402
from schema_and_catalogue import database_name, may_wipe  # noqa: E402


def mapped_datasets(source_type: str, url: str, org_id: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    from ckanext.communes.harvesters import fetch as guarded
    from ckanext.communes.harvesters.base import GatherContext, harvester_for
    from ckanext.communes.harvesters.mapping import map_to_schema
    from ckanext.communes.harvesters.report import ReportBuilder

    harvester = harvester_for(source_type)
    ctx = GatherContext(None, "", url, org_id, config, guarded.limits_from_config(config), ReportBuilder())
    datasets = []
    for page in harvester.pages(ctx):
        for record in page.records():
            dataset = map_to_schema(record.dataset).dataset
            dataset["owner_org"] = org_id
            datasets.append(dataset)
    return datasets


def serve(kind: str, server: Any, count: int) -> tuple[str, dict[str, Any]]:
    """Serve ``count`` generated datasets of a type; returns the source URL and config."""
    if kind == "communes_ods":
        from ckanext.communes.tests.harvesters.test_ods_harvest import RemoteODS, copies

        return RemoteODS(server, copies(count)).url, {}
    if kind == "communes_udata":
        from ckanext.communes.tests.harvesters.test_udata_source import RemoteUdata, fixture_datasets

        template = fixture_datasets(server)[0]
        datasets = []
        for index in range(count):
            dataset = copy.deepcopy(template)
            dataset.update(id=f"{index:024x}", slug=f"jeu-{index}", title=f"Jeu {index}")
            dataset.pop("harvest", None)
            datasets.append(dataset)
        return RemoteUdata(server, datasets).url, {"page_size": 100}
    from ckanext.communes.tests.harvesters.test_csw_harvest import GeoNetwork, generated_records

    return GeoNetwork(server, generated_records(count)).url, {"page_size": 100}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckan-ini", required=True)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--allow-wipe", action="store_true")
    args = parser.parse_args(argv)

    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    app = make_app(load_config(args.ckan_ini))
    if not may_wipe(database_name(), args.allow_wipe):
        print(f"Refusing to wipe database {database_name()!r} (pass --allow-wipe).", file=sys.stderr)
        return 2
    import logging

    logging.getLogger("ckan.lib.datapreview").setLevel(logging.ERROR)
    import ckan.plugins.toolkit as tk
    from ckan.lib import search

    from ckanext.communes.harvesters import jobs
    from ckanext.communes.harvesters.base import harvester_for
    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
    from ckanext.communes.tests.harvesters.conftest import SourceServer

    flask_app = app._wsgi_app if hasattr(app, "_wsgi_app") else app
    rows = []
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False
        tk.config["ckanext.communes.harvest.allow_private_addresses"] = True
        create = tk.get_action("package_create")
        for kind in ("communes_ods", "communes_udata", "communes_csw"):
            server = SourceServer()
            url, config = serve(kind, server, args.datasets)
            user, bron = fresh_portal()
            datasets = mapped_datasets(kind, url, bron["id"], config)
            site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]

            def floor(datasets: list[dict[str, Any]] = datasets, site_user: str = site_user) -> None:
                for index, dataset in enumerate(datasets):
                    create({"user": site_user, "ignore_auth": True, HARVEST_CONTEXT_FLAG: True,
                            "return_id_only": True}, {**dataset, "name": f"floor-{index}"})
                search.commit()

            floor_time, _ = timed(floor)
            user, bron = fresh_portal()
            source = make_source(user, bron["id"], url, kind)
            tk.get_action("harvest_source_patch")({"user": user}, {"id": source, "config": json.dumps(config)})
            first_time, job = timed(lambda source=source: jobs.run_source(source))
            search.commit()
            again_time, again = timed(lambda source=source: jobs.run_source(source))
            rows.append((kind, len(datasets), floor_time, first_time, job["stats"].get("added", 0), again_time,
                         again["stats"].get("added", 0) + again["stats"].get("updated", 0)))
            server.close()

        # CSW page size 100 vs 10, dry run on the same records: round trips and time.
        server = SourceServer()
        url, _config = serve("communes_csw", server, args.datasets)
        harvester = harvester_for("communes_csw")
        user, bron = fresh_portal()
        paging = {}
        for size in (100, 10):
            server.requests.clear()
            started = time.perf_counter()
            plan = harvester.plan(None, "bench", url, bron["id"], {"page_size": size}, dry_run=True)
            paging[size] = (len(server.requests), time.perf_counter() - started, plan.report.counts["create"])
        server.close()

    print()
    for kind, count, floor_time, first_time, added, again_time, rewritten in rows:
        print(f"{kind}: {count} datasets | floor {floor_time:.1f} s | first harvest {first_time:.1f} s ({added} added) "
              f"-> ratio {first_time / floor_time:.2f} (target <= 1.3) | unchanged again {again_time:.1f} s "
              f"-> ratio {again_time / first_time:.3f} (target <= 0.1), {rewritten} rewritten")
    for size, (requests, seconds, listed) in paging.items():
        print(f"communes_csw dry run, page size {size}: {requests} GetRecords, {seconds:.2f} s, {listed} records")
    print(f"page size 100 vs 10: {paging[10][0] / paging[100][0]:.1f}x fewer requests, "
          f"{paging[10][1] / paging[100][1]:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
