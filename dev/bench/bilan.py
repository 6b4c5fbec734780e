"""Bilan benchmark (``make bench``): the programme's assessment over 58 communes x 10,000 datasets.

    python dev/bench/bilan.py --ckan-ini test.ini [--per-commune 10000] [--repeat 5] [--keep-index]

A DEDICATED Solr core (``--core``, default ``ckan_bench_bilan``, created next to the others with CoreAdmin
when missing: never the test core) is filled with documents shaped like CKAN's index of our datasets
(site_id, entity_type, dataset_type, capacity, state, permission_labels, owner_org, vocab_commune,
license_id, quality_score, vocab_quality_missed, vocab_frequency, vocab_scdl_schema, the harvest source,
metadata_created, data_dict...), posted in bulk (JSON updates of 10,000 documents, one commit): building
580,000 datasets through package_create would take hours and measure something else. The database gets
the 58 communes (seeded) with a few conventions, so the bilan has everything it reads.

Measured in turns with the baseline (a busy machine slows both alike), each the best of ``--repeat`` after a
warm-up (Solr's caches warm for both alike):
(a) the bilan computed afresh (``indicators.compute`` with the cache bypassed: its Solr requests, the SQL
    aggregates, the rows) vs ONE ``package_search`` with the same filters (public active datasets of the
    site, facets on commune, licence, missed criterion), rows 20: target <= 3x;
(b) the page ``/communes/bilan`` (cached bilan) vs the same package_search: target <= 2x. When the page
    does not exist (bilan/views.py has no blueprint), (b) measures ``compute()`` answered from the cache.

WIPES the database it is pointed at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import random
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, open_app, wipe  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BATCH = 10_000
LICENCES = (("etalab-2.0", 55), ("ODbL-1.0", 15), ("CC-BY-4.0", 15), ("notspecified", 5), ("", 10))
FREQUENCIES = (("ANNUAL", 40), ("MONTHLY", 20), ("UNKNOWN", 10), ("", 30))
CRITERIA = ("dcat_properties", "shacl", "licence", "description", "theme", "spatial", "temporal", "contact",
            "frequency", "open_format", "links", "scdl")
SCDL = ("scdl/deliberations", "scdl/subventions", "scdl/budget", "scdl/equipements", "etalab/schema-irve-statique")
SOURCES = tuple(f"bench-source-{n}" for n in range(5))
FIRST_DAY = 17_897  # 2019-01-01, in days since the epoch
LAST_DAY = 20_758  # 2026-10-31


def weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def solr_base(solr_url: str) -> str:
    return solr_url.rstrip("/").rsplit("/", 1)[0]


def ensure_core(solr_url: str, core: str) -> None:
    """Create the core with CoreAdmin when Solr does not have it (dev/stack.sh writes its conf folder)."""
    base = solr_base(solr_url)
    status = requests.get(f"{base}/admin/cores", params={"action": "STATUS", "core": core, "wt": "json"}, timeout=30)
    if status.json()["status"].get(core, {}).get("instanceDir"):
        return
    subprocess.run(["bash", str(ROOT / "dev" / "stack.sh"), "solr-core", core], check=True, capture_output=True)
    # CoreAdmin CREATE refuses a folder that already holds a core.properties: it writes its own.
    home = pathlib.Path(os.environ.get("CKAN_DEV_SOLR_HOME") or ROOT / ".dev" / "solr-home")
    (home / core / "core.properties").unlink(missing_ok=True)
    created = requests.get(f"{base}/admin/cores", params={"action": "CREATE", "name": core, "instanceDir": core,
                                                          "wt": "json"}, timeout=120)
    if created.status_code != 200:
        raise SystemExit(f"Could not create the Solr core {core} (is Solr the one of dev/stack.sh, home {home}?): "
                         f"{created.text[:500]}")


def documents(site_id: str, communes: list[tuple[str, str, str]], per_commune: int,
              seed: int = 7) -> Iterator[dict[str, Any]]:
    """(insee, organisation name, organisation id) -> per_commune documents each, shaped like CKAN's index."""
    from ckanext.communes.bilan.indexing import bilan_keys

    rng = random.Random(seed)
    for insee, org_name, org_id in communes:
        for index in range(per_commune):
            package_id = f"{insee}-{index:06d}"
            day = rng.randint(FIRST_DAY, LAST_DAY)
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day * 86400 + rng.randint(0, 86399)))
            licence = weighted(rng, LICENCES)
            frequency = weighted(rng, FREQUENCIES)
            missed = [c for c in CRITERIA if rng.random() < 0.3]
            score = 100 - 8 * len(missed)
            dataset = {"id": package_id, "name": f"jeu-{package_id}", "title": f"Jeu {index} de {org_name}",
                       "type": "dataset", "owner_org": org_id, "license_id": licence, "state": "active",
                       "private": False, "metadata_created": created[:-1], "metadata_modified": created[:-1],
                       "num_resources": 0, "num_tags": 0, "resources": [], "tags": [], "extras": [],
                       "organization": {"id": org_id, "name": org_name, "title": org_name}}
            doc: dict[str, Any] = {
                "index_id": hashlib.md5(f"{package_id}{site_id}".encode()).hexdigest(),
                "id": package_id, "site_id": site_id, "name": dataset["name"], "title": dataset["title"],
                "entity_type": "package", "dataset_type": "dataset", "state": "active", "capacity": "public",
                "permission_labels": ["public"], "owner_org": org_id, "organization": org_name,
                "vocab_commune": [insee], "metadata_created": created, "metadata_modified": created,
                "quality_score": f"{score:03d}",
                "data_dict": json.dumps(dataset), "validated_data_dict": json.dumps(dataset),
            }
            if licence:
                doc["license_id"] = licence
            if missed:
                doc["vocab_quality_missed"] = missed
            if frequency:
                doc["vocab_frequency"] = [frequency]
            if rng.random() < 0.1:
                doc["vocab_scdl_schema"] = [rng.choice(SCDL)]
            if rng.random() < 0.4:
                source = rng.choice(SOURCES)
                doc["communes_harvest_source"] = doc["harvest_source_id"] = source
            doc["vocab_bilan"] = bilan_keys(doc)  # what bilan/indexing.py adds, from the fields above
            yield doc


def fill(solr_url: str, docs: Iterator[dict[str, Any]]) -> int:
    """Post the documents in batches, commit once; the count posted."""
    session = requests.Session()
    count, batch = 0, []
    for doc in docs:
        batch.append(doc)
        if len(batch) == BATCH:
            post(session, solr_url, batch)
            count += len(batch)
            batch = []
    if batch:
        post(session, solr_url, batch)
        count += len(batch)
    session.get(f"{solr_url}/update", params={"commit": "true"}, timeout=600).raise_for_status()
    return count


def post(session: requests.Session, solr_url: str, batch: list[dict[str, Any]]) -> None:
    response = session.post(f"{solr_url}/update", data=json.dumps(batch), timeout=600,
                            headers={"Content-Type": "application/json"})
    response.raise_for_status()


def clear(solr_url: str) -> None:
    requests.post(f"{solr_url}/update", params={"commit": "true"}, timeout=600, json={"delete": {"query": "*:*"}}
                  ).raise_for_status()


def best_of(repeat: int, ours: Callable[[], Any], baseline: Callable[[], Any]) -> tuple[float, float]:
    """Best times of ours and of the baseline, measured in turns (a busy machine slows both alike), after a
    warm-up of each."""
    ours()
    baseline()
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, run in enumerate((ours, baseline)):
            start = time.perf_counter()
            run()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0], best[1]


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - a script reads best top to bottom
    parser = argument_parser(__doc__)
    parser.add_argument("--core", default="ckan_bench_bilan", help="dedicated Solr core (created when missing)")
    parser.add_argument("--per-commune", type=int, default=10_000, help="datasets per commune")
    parser.add_argument("--repeat", type=int, default=7, help="measures per side, in turns, best kept")
    parser.add_argument("--keep-index", action="store_true",
                        help="reuse the core's documents when already filled, and keep them at the end "
                             "(otherwise emptied, to give Solr's memory back)")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk

    test_solr = tk.config["solr_url"]
    bench_solr = f"{solr_base(test_solr)}/{args.core}"
    if urllib.parse.urlsplit(bench_solr).path == urllib.parse.urlsplit(test_solr).path:
        print(f"Refusing to fill the configured core {test_solr}: pass another --core.", file=sys.stderr)
        return 2
    ensure_core(test_solr, args.core)

    from ckan import model

    from ckanext.communes.bilan import cache, indicators
    from ckanext.communes.communes import registry, seeding

    print(f"WARNING: wiping the database of {args.ckan_ini} "
          f"({tk.config.get('sqlalchemy.url', '').rsplit('@', 1)[-1]}); "
          f"index: dedicated core {bench_solr}")
    with flask_app.test_request_context():
        wipe()
        seeding.seed()
        tk.config["solr_url"] = bench_solr  # every search below, and the page, read the bench core
        # A few conventions, so the before/after figures are computed as on the real portal.
        for insee, signed in (("69029", "2023-03-01"), ("69123", "2022-06-15"), ("69116", "2024-01-10")):
            group = model.Session.query(model.Group).filter(model.Group.extras["insee_code"].astext == insee).one()
            group.extras = {**group.extras, "convention_signed": signed}
        model.repo.commit()
        communes = [(c.insee, c.slug, model.Group.get(c.slug).id) for c in registry.all_communes()]
        total = args.per_commune * len(communes)
        found = requests.get(f"{bench_solr}/select", params={"q": "*:*", "rows": 0, "wt": "json"},
                             timeout=60).json()["response"]["numFound"]
        if args.keep_index and found == total:
            print(f"reusing the {found} documents of {args.core}")
        else:
            clear(bench_solr)
            start = time.perf_counter()
            posted = fill(bench_solr, documents(tk.config["ckan.site_id"], communes, args.per_commune))
            print(f"filled {args.core}: {posted} documents in {time.perf_counter() - start:.0f} s")

        search = tk.get_action("package_search")
        search_params = {"q": "*:*", "fq": "+dataset_type:dataset", "rows": 20,
                         "facet.field": ["vocab_commune", "license_id", "vocab_quality_missed"], "facet.limit": -1}
        checked = search({"ignore_auth": True}, dict(search_params))
        assert checked["count"] == total, (checked["count"], total)

        def one_search() -> Any:
            return search({"ignore_auth": True}, dict(search_params))

        def fresh() -> dict[str, Any]:
            cache.bump()
            return indicators.compute()

        bilan = fresh()
        assert sum(row["values"]["datasets"] for row in bilan["rows"]) == total
        fresh_time, search_time = best_of(args.repeat, fresh, one_search)
        cached_time, search_time_b = best_of(args.repeat, indicators.compute, one_search)

    from ckanext.communes.bilan import views

    page_name, page_time = "compute() from the cache (no page yet)", cached_time
    if views.get_blueprints():
        client = flask_app.test_client()
        response = client.get("/communes/bilan")
        if response.status_code != 200:
            print(f"ERROR: GET /communes/bilan answered {response.status_code}", file=sys.stderr)
            return 1

        def page_search() -> Any:
            with flask_app.test_request_context():
                return one_search()

        page_name = "GET /communes/bilan (cached bilan)"
        page_time, search_time_b = best_of(args.repeat, lambda: client.get("/communes/bilan"), page_search)

    if not args.keep_index:
        clear(bench_solr)
    baseline = f"package_search rows 20 + 3 facets ({total} docs)"
    rows = [
        ("(a) bilan computed afresh, ms", "indicators.compute, cache bypassed", fresh_time, baseline, search_time, 3.0),
        ("(b) bilan page, ms", page_name, page_time, baseline, search_time_b, 2.0),
    ]
    header = ("measure", "ours", "time", "baseline", "time", "ratio", "target")
    cells = [(r[0], r[1], f"{r[2] * 1000:.0f}", r[3], f"{r[4] * 1000:.0f}", f"{r[2] / r[4]:.2f}", f"<= {r[5]:.0f}")
             for r in rows]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
