"""Benchmarks of ckanext-communes (``make bench``): ratios against baselines measured in the same run,
on the same machine and the same data. Not a test: it prints a table.

    python dev/bench/schema_and_catalogue.py --ckan-ini test.ini [--create 200] [--datasets 1000] [--repeat 2]

WARNING: it WIPES the database and the Solr index the ini file points to (test.ini: the test
database and core; CKAN_SQLALCHEMY_URL / CKAN_SOLR_URL override them as for the tests). It refuses a
database whose name does not end in ``_test`` unless given ``--allow-wipe``.

(a) package_create with our schema (type ``dataset``: scheming, our validators, derived publisher,
    vocabularies, licence policy) vs CKAN's default schema. Baseline choice: a dataset type no
    IDatasetForm plugin claims (``bench-ckan-default``) makes package_create use CKAN's own
    DefaultDatasetForm and default_create_package_schema() in the same process. Passing
    ``context['schema']`` would not do: scheming's validate() ignores it for its own types. Both runs
    go through the same action, auth, database writes, IPackageController hooks and Solr indexing
    (commits deferred to the end for both), with the same content.
(b) serialising a commune catalogue of ``--datasets`` datasets: ``/communes/{insee}/catalog.ttl``
    (euro_dcat_ap_3 + our profile) vs ckanext-dcat's ``/catalog.ttl`` with ``profiles=euro_dcat_ap_3``
    and ``fq=owner_org:...`` on the same datasets, one page holding them all
    (``ckanext.dcat.datasets_per_page``); each is the best of ``--repeat`` requests.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, open_app, setup_portal, wipe  # noqa: E402

BASELINE_TYPE = "bench-ckan-default"
THEME = "http://publications.europa.eu/resource/authority/data-theme/GOVE"


def dataset_content(org_id: str, index: int, prefix: str) -> dict[str, Any]:
    """The same minimal content for both schemas (the default schema ignores `theme`)."""
    return {
        "name": f"{prefix}-{index:05d}",
        "title": f"Jeu de données {index}",
        "notes": "Un jeu de données du banc d'essai.",
        "owner_org": org_id,
        "license_id": "etalab-2.0",
        "theme": [THEME],
        "resources": [{"url": f"https://example.org/{prefix}/{index}.csv", "name": "Données (CSV)"}],
    }


def time_creates(user: str, org_id: str, count: int, prefix: str, dataset_type: str | None) -> list[float]:
    import ckan.plugins.toolkit as tk

    create = tk.get_action("package_create")
    durations = []
    for index in range(count):
        data = dataset_content(org_id, index, prefix)
        if dataset_type:
            data["type"] = dataset_type
        start = time.perf_counter()
        create({"user": user}, data)
        durations.append(time.perf_counter() - start)
    return durations


def best_of(repeat: int, get: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = get()
        best = min(best, time.perf_counter() - start)
    return best, result


def count_datasets(turtle: bytes) -> int:
    import rdflib

    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    return len(set(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset"))))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--create", type=int, default=200, help="package_create calls per schema (a)")
    parser.add_argument("--datasets", type=int, default=1000, help="datasets in the commune catalogue (b)")
    parser.add_argument("--repeat", type=int, default=2, help="catalogue requests per endpoint, best kept (b)")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import search

    print(f"WARNING: wiping the database and Solr index of {args.ckan_ini} "
          f"({tk.config.get('sqlalchemy.url', '').rsplit('@', 1)[-1]}, {tk.config.get('solr_url')})")
    with flask_app.test_request_context():
        # Same indexing cost for both schemas, without one Solr commit per dataset.
        tk.config["ckan.search.solr_commit"] = False
        tk.config["ckanext.dcat.datasets_per_page"] = max(args.datasets, 1)
        wipe()
        user, bron, mions = setup_portal()

        # (a) our schema vs CKAN's default schema, interleaved in blocks so drift hits both alike.
        ours: list[float] = []
        default: list[float] = []
        block = 25
        for start in range(0, args.create, block):
            size = min(block, args.create - start)
            ours += time_creates(user, bron["id"], size, f"ours-{start}", None)
            default += time_creates(user, mions["id"], size, f"default-{start}", BASELINE_TYPE)
        # (b) the rest of the commune's datasets, through our schema.
        remaining = max(args.datasets - args.create, 0)
        time_creates(user, bron["id"], remaining, "catalogue", None)
        search.commit()

    client = flask_app.test_client()
    profiles = tk.config.get("ckanext.dcat.rdf.profiles", "")
    ours_url = "/communes/69029/catalog.ttl"
    # No quotes in fq: ckanext-dcat copies it into its Hydra paging URIs, which must stay valid.
    baseline_url = f"/catalog.ttl?profiles=euro_dcat_ap_3&fq=owner_org:{bron['id']}"
    ours_time, ours_response = best_of(args.repeat, lambda: client.get(ours_url))
    base_time, base_response = best_of(args.repeat, lambda: client.get(baseline_url))
    for url, response in ((ours_url, ours_response), (baseline_url, base_response)):
        if response.status_code != 200:
            print(f"ERROR: GET {url} answered {response.status_code}", file=sys.stderr)
            return 1
    ours_count, base_count = count_datasets(ours_response.data), count_datasets(base_response.data)

    mean_ours, mean_default = statistics.mean(ours) * 1000, statistics.mean(default) * 1000
    rows = [
        ("(a) package_create, mean ms", f"our schema x{len(ours)}", f"{mean_ours:.1f}",
         f"CKAN default schema x{len(default)}", f"{mean_default:.1f}", mean_ours / mean_default),
        ("(a) package_create, median ms", "", f"{statistics.median(ours) * 1000:.1f}", "",
         f"{statistics.median(default) * 1000:.1f}", statistics.median(ours) / statistics.median(default)),
        (f"(b) catalogue .ttl, {ours_count} datasets, s", "/communes/69029/catalog.ttl", f"{ours_time:.2f}",
         f"/catalog.ttl euro_dcat_ap_3 ({base_count})", f"{base_time:.2f}", ours_time / base_time),
    ]
    print(f"\nconfigured RDF profiles: {profiles or '(ckanext-dcat default)'}; "
          f"catalogue size {len(ours_response.data) // 1024} KiB (ours) vs {len(base_response.data) // 1024} KiB")
    header = ("measure", "ours", "time", "baseline", "time", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *[(*r[:5], f'{r[5]:.2f}') for r in rows]]) for i in range(6)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        cells = (*row[:5], f"{row[5]:.2f}")
        print(" | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
