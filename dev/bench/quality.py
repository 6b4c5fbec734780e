"""Quality benchmark (``make bench``): ratios measured in one run, on the same machine and data.

    python dev/bench/quality.py --ckan-ini test.ini [--create 200] [--shacl 100]

(a) package_create then package_update of the same datasets with the quality hooks on (score in
    package_show and in the index, the dataset's background checks queued) vs off (only the quality
    hooks switched off: the rest of our plugin, indexing included, stays on). Each action runs as its
    own request would (fresh flask.g, session disposed of after it), so nothing memoised in one request
    helps the next. Interleaved dataset by dataset in alternating order (off/on, on/off, ...) so that the
    load of a shared machine, drift and a growing database hit both alike, after an untimed warm-up of
    both. The ratio compares medians (one slow call, an autovacuum or a GC pause, does not move them);
    means are shown too. Target (issue #10): on/off <= 1.1 (the expensive parts, SHACL, link check and
    SCDL validation, run in the background).
(b) the DCAT-AP SHACL check as the background job does it, one dataset at a time (serialise + validate),
    in datasets per second, vs validating the same datasets merged into one graph.

WIPES the database it is pointed at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
The jobs enqueued by (a) are removed from the queue at the end.
"""

from __future__ import annotations

import contextlib
import pathlib
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, open_app, setup_portal, wipe  # noqa: E402

EU = "http://publications.europa.eu/resource/authority"
NOTES = ("Inventaire des arbres d'alignement de la commune : essence, hauteur, diamètre du tronc, date de "
         "plantation et adresse, tenu à jour par le service des espaces verts.")


def dataset(org_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name, "title": f"Jeu {name}", "notes": NOTES, "owner_org": org_id, "tag_string": "arbres",
        "license_id": "etalab-2.0", "theme": [f"{EU}/data-theme/ENVI"], "frequency": f"{EU}/frequency/ANNUAL",
        "temporal_coverage": [{"start": "2020-01-01"}],
        "resources": [{"url": f"https://example.org/{name}.csv", "name": "CSV", "format": f"{EU}/file-type/CSV"},
                      {"url": f"https://example.org/{name}.json", "name": "JSON"}],
    }


@contextlib.contextmanager
def quality_hooks(on: bool) -> Iterator[None]:
    """The quality hooks on or off. plugin.py's IPackageController methods call these functions of
    ``quality.hooks`` by module attribute: "off" replaces them by no-ops, nothing else changes."""
    from ckanext.communes.quality import hooks

    saved = {name: getattr(hooks, name) for name in
             ("before_dataset_index", "after_dataset_show", "after_dataset_change")}
    if not on:
        hooks.before_dataset_index = lambda d: d
        hooks.after_dataset_show = lambda c, d: d
        hooks.after_dataset_change = lambda c, d: None
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(hooks, name, value)


def in_own_request(flask_app: Any, action: str, user: str, data_dict: dict[str, Any]) -> tuple[Any, float]:
    """One action as one API request runs it: its own application context (a fresh ``flask.g``, so nothing
    memoised by a previous request), then the session disposed of as CKAN does after each request. Only
    the action is timed."""
    import ckan.plugins.toolkit as tk
    from ckan import model

    with flask_app.app_context(), flask_app.test_request_context():
        start = time.perf_counter()
        result = tk.get_action(action)({"user": user}, data_dict)
        elapsed = time.perf_counter() - start
    model.Session.remove()
    return result, elapsed


def time_block(flask_app: Any, user: str, org_id: str, prefix: str, count: int) -> tuple[list[float], list[float]]:
    creates, updates = [], []
    for index in range(count):
        data = dataset(org_id, f"{prefix}-{index:04d}")
        created, elapsed = in_own_request(flask_app, "package_create", user, data)
        creates.append(elapsed)
        data.update(id=created["id"], title=data["title"] + " (révisé)")
        _, elapsed = in_own_request(flask_app, "package_update", user, data)
        updates.append(elapsed)
    return creates, updates


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--create", type=int, default=200, help="datasets created and updated per mode (a)")
    parser.add_argument("--shacl", type=int, default=100, help="datasets validated (b)")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    import rdflib
    from ckan.lib import jobs, search

    from ckanext.communes.quality import shacl

    print(f"WARNING: wiping the database and Solr index of {args.ckan_ini}")
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False
        wipe()
        user, bron, _mions = setup_portal()

        # (a) on vs off: an untimed warm-up of both, then one dataset of each, in alternating order.
        for on in (False, True):
            with quality_hooks(on):
                time_block(flask_app, user, bron["id"], f"warm-{'on' if on else 'off'}", 5)
        jobs.get_queue().empty()
        results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
        for number in range(args.create):
            for on in ((False, True) if number % 2 == 0 else (True, False)):
                with quality_hooks(on):
                    creates, updates = time_block(flask_app, user, bron["id"],
                                                  f"{'on' if on else 'off'}-{number:04d}", 1)
                results[on][0].extend(creates)
                results[on][1].extend(updates)
        search.commit()
        from ckanext.communes.quality import background

        queued = background.waiting_count()  # one row per dataset, whatever its saves
        for queue in background.QUEUES:
            jobs.get_queue(queue).empty()

        # (b) SHACL: one dataset at a time (the job) vs the same datasets in one graph.
        with quality_hooks(True):
            ids = [row["id"] for row in tk.get_action("package_search")(
                {"ignore_auth": True}, {"q": "*:*", "rows": args.shacl, "fl": "id"})["results"]]
            dicts = [tk.get_action("package_show")({"ignore_auth": True}, {"id": i}) for i in ids]
        shacl.shapes_graph()  # parsed once per worker process: not part of either measure
        start = time.perf_counter()
        per_dataset = [shacl.validate_dataset(d) for d in dicts]
        one_by_one = time.perf_counter() - start
        start = time.perf_counter()
        merged = rdflib.Graph()
        for d in dicts:
            merged += shacl.dataset_graph(d)
        together = shacl.validate_graph(merged)
        in_one_graph = time.perf_counter() - start

    n = len(dicts)
    rows = []
    for index, action in enumerate(("package_create", "package_update")):
        median = {on: statistics.median(results[on][index]) * 1000 for on in results}
        mean = {on: statistics.mean(results[on][index]) * 1000 for on in results}
        rows += [
            (f"(a) {action}, median ms ({len(results[True][index])} calls each)", f"{median[True]:.1f} on",
             f"{median[False]:.1f} off", f"ratio {median[True] / median[False]:.2f} (target <= 1.1)"),
            (f"(a) {action}, mean ms", f"{mean[True]:.1f} on", f"{mean[False]:.1f} off",
             f"ratio {mean[True] / mean[False]:.2f}"),
        ]
    rows += [
        ("(a) datasets waiting for their checks (on)", str(queued), f"one per dataset: {args.create} expected",
         "their drain jobs removed from the queue"),
        ("(b) SHACL, datasets/s", f"{n / one_by_one:.1f} one by one", f"{n / in_one_graph:.1f} in one graph",
         f"ratio {in_one_graph / one_by_one:.2f} (one graph time / per-dataset time)"),
        ("(b) conforming datasets", f"{sum(1 for r in per_dataset if r.conforms)}/{n}",
         f"one graph: {together.violations} violation(s)", ""),
    ]
    for row in rows:
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
