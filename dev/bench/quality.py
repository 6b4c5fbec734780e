"""Quality benchmark (``make bench``): ratios measured in one run, on the same machine and data.

    python dev/bench/quality.py --ckan-ini test.ini [--create 200] [--shacl 100]

(a) package_create then package_update of the same datasets with the quality hooks on (score in
    package_show and in the index, background checks enqueued) vs off, interleaved in blocks so that
    drift hits both alike. Target (issue #10): on/off <= 1.1 (the expensive parts run in the background).
(b) the DCAT-AP SHACL check as the background job does it, one dataset at a time (serialise + validate),
    in datasets per second, vs validating the same datasets merged into one graph.

WIPES the database it is pointed at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
The jobs enqueued by (a) are removed from the queue at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from schema_and_catalogue import database_name, load_app, may_wipe, setup_portal, wipe  # noqa: E402

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
    """The quality hooks on or off. Until plugin.py wires them, "on" plugs them into the loaded plugin
    the way the lead's wiring does (same calls)."""
    from ckanext.communes import plugin
    from ckanext.communes.quality import score

    cls = plugin.CommunesPlugin
    saved_cls = {name: cls.__dict__.get(name) for name in
                 ("before_dataset_index", "after_dataset_show", "after_dataset_create", "after_dataset_update")}
    saved_mod = {name: getattr(score, name) for name in
                 ("before_dataset_index", "after_dataset_show", "after_dataset_change")}
    if "after_dataset_show" not in cls.__dict__:
        original_index = cls.before_dataset_index
        cls.before_dataset_index = lambda self, d: score.before_dataset_index(original_index(self, d))
        cls.after_dataset_show = lambda self, c, d: score.after_dataset_show(c, d)
        cls.after_dataset_create = lambda self, c, d: score.after_dataset_change(d)
        cls.after_dataset_update = lambda self, c, d: score.after_dataset_change(d)
    if not on:
        score.before_dataset_index = lambda d: d
        score.after_dataset_show = lambda c, d: d
        score.after_dataset_change = lambda d: None
    try:
        yield
    finally:
        for name, value in saved_mod.items():
            setattr(score, name, value)
        for name, value in saved_cls.items():
            if value is None:
                if name in cls.__dict__:
                    delattr(cls, name)
            else:
                setattr(cls, name, value)


def time_block(user: str, org_id: str, prefix: str, count: int) -> tuple[list[float], list[float]]:
    import ckan.plugins.toolkit as tk

    creates, updates = [], []
    for index in range(count):
        data = dataset(org_id, f"{prefix}-{index:04d}")
        start = time.perf_counter()
        created = tk.get_action("package_create")({"user": user}, data)
        creates.append(time.perf_counter() - start)
        data.update(id=created["id"], title=data["title"] + " (révisé)")
        start = time.perf_counter()
        tk.get_action("package_update")({"user": user}, data)
        updates.append(time.perf_counter() - start)
    return creates, updates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckan-ini", required=True)
    parser.add_argument("--create", type=int, default=200, help="datasets created and updated per mode (a)")
    parser.add_argument("--shacl", type=int, default=100, help="datasets validated (b)")
    parser.add_argument("--allow-wipe", action="store_true",
                        help="wipe the database even if its name does not end in _test")
    args = parser.parse_args(argv)

    app = load_app(args.ckan_ini)
    if not may_wipe(database_name(), args.allow_wipe):
        print(f"Refusing to wipe database {database_name()!r}: its name does not end in _test "
              "(pass --allow-wipe to wipe it anyway).", file=sys.stderr)
        return 2
    import logging

    logging.getLogger("ckan.lib.datapreview").setLevel(logging.ERROR)
    flask_app = app._wsgi_app if hasattr(app, "_wsgi_app") else app
    import ckan.plugins.toolkit as tk
    import rdflib
    from ckan.lib import jobs, search

    from ckanext.communes.quality import shacl

    print(f"WARNING: wiping the database and Solr index of {args.ckan_ini}")
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False
        wipe()
        user, bron, _mions = setup_portal()

        # (a) on vs off, interleaved in blocks of 25.
        results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
        block = 25
        for start in range(0, args.create, block):
            size = min(block, args.create - start)
            for on in (False, True):
                with quality_hooks(on):
                    creates, updates = time_block(user, bron["id"], f"{'on' if on else 'off'}-{start}", size)
                results[on][0].extend(creates)
                results[on][1].extend(updates)
        search.commit()
        queued = jobs.get_queue().count
        jobs.get_queue().empty()

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

    mean = {on: (statistics.mean(results[on][0]) * 1000, statistics.mean(results[on][1]) * 1000) for on in results}
    n = len(dicts)
    rows = [
        ("(a) package_create, mean ms", f"{mean[True][0]:.1f} on", f"{mean[False][0]:.1f} off",
         f"ratio {mean[True][0] / mean[False][0]:.2f} (target <= 1.1)"),
        ("(a) package_update, mean ms", f"{mean[True][1]:.1f} on", f"{mean[False][1]:.1f} off",
         f"ratio {mean[True][1] / mean[False][1]:.2f} (target <= 1.1)"),
        ("(a) background jobs enqueued (on)", str(queued), "", "removed from the queue"),
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
