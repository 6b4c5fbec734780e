"""Per source type benchmark (issue #9): Opendatasoft, udata and CSW on generated catalogues served by the
tests' fixture server (a real HTTP server on 127.0.0.1, the same fake APIs the tests use).

    python dev/bench/sources.py --ckan-ini test.ini [--datasets 1000] [--types communes_udata ...]
                                [--rounds 1] [--profile DIR]

For each type, on an empty database: (a) the floor, package_create of the datasets our harvester would save;
(b) the first harvest; (c) the same source again, unchanged. And the CSW harvester with page size 100 vs 10
on the same records (dry run: HTTP round trips and time). WIPES the database (refused unless its name ends
in ``_test``, or ``--allow-wipe``).

The floor and the first harvest both start after a ``VACUUM ANALYZE`` of the wiped database and both end
with the search index's commit. ``--types`` runs only the named source types (and the CSW paging
comparison only when CSW is among them); ``--rounds N`` measures floor and first harvest N times in turn
per type and reports each round's ratio and their median (on a shared machine whose load changes from
minute to minute, one pair of timings can be off by a third either way); ``--profile DIR`` writes a
cProfile of each first harvest to ``DIR/{type}.prof`` and of its floor to ``DIR/{type}-floor.prof``
(profiling slows the run: its ratios are not the benchmark's).
"""

from __future__ import annotations

import copy
import json
import pathlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, fresh_portal, make_source, mapped_datasets, open_app, timed  # noqa: E402

SOURCE_TYPES = ("communes_ods", "communes_udata", "communes_csw")


def profiled(run: Callable[[], Any], path: pathlib.Path | None) -> Callable[[], Any]:
    """``run``, under cProfile writing to ``path`` when one is given."""
    if path is None:
        return run

    def run_profiled() -> Any:
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(run)
        finally:
            path.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(path))

    return run_profiled


def settle_database() -> None:
    """VACUUM ANALYZE after a wipe, before a measurement: the wipe leaves thousands of dead rows and stale
    statistics, and autovacuum would otherwise clean them up in the middle of whichever measurement comes
    next, the floor's or the harvest's. Both start from the same clean tables."""
    import gc

    import sqlalchemy as sa
    from ckan import model

    model.Session.commit()
    with model.meta.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    gc.collect()


def profile_path(directory: pathlib.Path | None, name: str) -> pathlib.Path | None:
    return directory / f"{name}.prof" if directory is not None else None


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
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--types", nargs="+", choices=SOURCE_TYPES, default=list(SOURCE_TYPES))
    parser.add_argument("--rounds", type=int, default=1,
                        help="floor and first harvest measured this many times in turn per type (median ratio)")
    parser.add_argument("--profile", type=pathlib.Path, default=None,
                        help="directory for a cProfile of each floor and first harvest")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import search

    from ckanext.communes.harvesters import jobs
    from ckanext.communes.harvesters.base import harvester_for
    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
    from ckanext.communes.tests.harvesters.conftest import SourceServer

    rows = []
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        create = tk.get_action("package_create")
        for kind in args.types:
            server = SourceServer()
            url, config = serve(kind, server, args.datasets)
            floor_times: list[float] = []
            first_times: list[float] = []
            for round_number in range(args.rounds):
                user, bron = fresh_portal()
                datasets = mapped_datasets(kind, url, bron["id"], config)
                site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]

                def floor(datasets: list[dict[str, Any]] = datasets, site_user: str = site_user) -> None:
                    for index, dataset in enumerate(datasets):
                        create({"user": site_user, "ignore_auth": True, HARVEST_CONTEXT_FLAG: True,
                                "return_id_only": True}, {**dataset, "name": f"floor-{index}"})
                    search.commit()

                suffix = f"-{round_number + 1}" if args.rounds > 1 else ""
                settle_database()
                floor_time, _ = timed(profiled(floor, profile_path(args.profile, f"{kind}-floor{suffix}")))
                user, bron = fresh_portal()
                source = make_source(user, bron["id"], url, kind)
                tk.get_action("harvest_source_patch")({"user": user}, {"id": source, "config": json.dumps(config)})
                settle_database()

                def first_harvest(source: str = source) -> dict[str, Any]:
                    job = jobs.run_source(source)
                    search.commit()  # as in the floor: the index's commit is part of the time
                    return job

                first_time, job = timed(profiled(first_harvest, profile_path(args.profile, f"{kind}{suffix}")))
                floor_times.append(floor_time)
                first_times.append(first_time)
            again_time, again = timed(lambda source=source: jobs.run_source(source))
            rows.append((kind, len(datasets), floor_times, first_times, job["stats"].get("added", 0), again_time,
                         again["stats"].get("added", 0) + again["stats"].get("updated", 0)))
            server.close()

        # CSW page size 100 vs 10, dry run on the same records: round trips and time.
        paging: dict[int, tuple[int, float, int]] = {}
        if "communes_csw" in args.types:
            server = SourceServer()
            url, _config = serve("communes_csw", server, args.datasets)
            harvester = harvester_for("communes_csw")
            user, bron = fresh_portal()
            for size in (100, 10):
                server.requests.clear()
                started = time.perf_counter()
                plan = harvester.plan(None, "bench", url, bron["id"], {"page_size": size}, dry_run=True)
                paging[size] = (len(server.requests), time.perf_counter() - started, plan.report.counts["create"])
            server.close()

    print()
    for kind, count, floor_times, first_times, added, again_time, rewritten in rows:
        ratios = [first / floor for first, floor in zip(first_times, floor_times, strict=True)]
        floor_time, first_time, ratio = (statistics.median(v) for v in (floor_times, first_times, ratios))
        rounds = (f" [rounds: {', '.join(f'{r:.2f}' for r in ratios)}; median]" if len(ratios) > 1 else "")
        print(f"{kind}: {count} datasets | floor {floor_time:.1f} s | first harvest {first_time:.1f} s ({added} added) "
              f"-> ratio {ratio:.2f}{rounds} (target <= 1.3) | unchanged again {again_time:.1f} s "
              f"-> ratio {again_time / first_time:.3f} (target <= 0.1), {rewritten} rewritten")
    for size, (requests, seconds, listed) in paging.items():
        print(f"communes_csw dry run, page size {size}: {requests} GetRecords, {seconds:.2f} s, {listed} records")
    if paging:
        print(f"page size 100 vs 10: {paging[10][0] / paging[100][0]:.1f}x fewer requests, "
              f"{paging[10][1] / paging[100][1]:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
