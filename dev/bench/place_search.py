"""Place search benchmark (``make bench``, issue #24): a bounding-box search against the same search without
one, over 58,000 indexed datasets, and a reindex of datasets with and without geometries.

    python dev/bench/place_search.py --ckan-ini test.ini [--per-commune 1000] [--turns 40] [--reindex 1000]

(a) Search. A DEDICATED Solr core (``--core``, default ``ckan_bench_place``, created next to the others with
    CoreAdmin when missing: never the test core; its schema is the local stack's, with the solr-bbox fields) is
    filled with 58 communes x ``--per-commune`` documents shaped as CKAN's indexer writes them for our datasets
    (site_id, entity_type, dataset_type, capacity, state, permission_labels, owner_org, vocab_commune, title,
    text, license_id, data_dict...) AND as our index hook and ckanext-spatial's solr-bbox backend add them:
    ``spatial`` (GeoJSON box), ``vocab_spatial_origin``, ``minx``/``miny``/``maxx``/``maxy``/``bbox_area``. Posted
    in bulk: 58,000 package_create calls would take hours and measure something else. Extents: 60 % the
    commune's box (the registry's), 40 % a box inside it (an editor's or a source's extent).
    Both sides go through CKAN's ``package_search`` action (our hooks, ckanext-spatial's, the Solr request),
    with the portal's search page parameters: a word of the titles (``q``), rows 20, facets on commune, licence
    and spatial origin. Each turn takes ANOTHER word and ANOTHER box (inside the Métropole, 1 to 10 km wide),
    the same word for both sides: no side is answered from Solr's query-result or filter caches while the
    other is not, as when reusers search different places. Turns alternate the sides (a busy machine slows
    both alike); the medians are compared. Target: ratio <= 1.5. A second line repeats ONE box (a reuser
    paging through results: the frange filter comes from Solr's filter cache).
(b) Reindex. ``--reindex`` real datasets created in the database with package_create (default 300: the size
    of a large commune's catalogue; creating them takes most of the bench's time), each with an editor's extent
    (a 64-vertex polygon inside its commune), reindexed with ``ckan.lib.search.rebuild`` (package_show, our index hooks,
    ckanext-spatial's index hook, one commit) against the same datasets with their extent removed from the
    database (the commune's box then comes from the registry), alternately, best of ``--repeat``.

Where a bbox search's extra time goes (the same 58,000 documents queried on Solr directly, medians of 60 turns
on a shared 2-core machine, December 2026): dismax 10.5 ms; edismax (which ckanext-spatial switches to) 12.6;
+ the frange filter alone 14.2 (a repeated box: 10.0, Solr's filter cache); + the overlap boost ``bf`` alone 14.7
(a repeated box: 13.3: it is computed for every matched document on every query); both 14.5 (12.9). Making the
frange a post-filter (``cache=false cost=200``) measured no better (33.5 vs 31.6 ms in a busier minute). The
fields are docValues doubles (dev/solr/conf/spatial-fields.xml); the boost is ckanext-spatial's, applied to
every bbox search whether or not the caller orders by overlap.

WIPES the database it is pointed at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from bilan import clear, ensure_core, fill, solr_base  # noqa: E402
from portal import argument_parser, make_sysadmin, open_app, wipe  # noqa: E402

WORDS = ("arbres", "voirie", "budget", "écoles", "marchés", "parkings", "déchets", "vélos", "crèches", "piscines",
         "bibliothèques", "subventions", "délibérations", "équipements", "stationnement", "éclairage")
LICENCES = ("etalab-2.0", "ODbL-1.0", "CC-BY-4.0")
FACETS = ["vocab_commune", "license_id", "vocab_spatial_origin"]


def inner_box(rng: random.Random, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = box
    width, height = (east - west) * rng.uniform(0.05, 0.5), (north - south) * rng.uniform(0.05, 0.5)
    x, y = rng.uniform(west, east - width), rng.uniform(south, north - height)
    return x, y, x + width, y + height


def documents(site_id: str, communes: list[tuple[str, str, str, tuple[float, float, float, float]]],
              per_commune: int, seed: int = 11) -> Iterator[dict[str, Any]]:
    """(insee, organisation name, id, box) -> per_commune documents each, as CKAN's index + the spatial fields."""
    from ckanext.communes.geo import bbox_geojson

    rng = random.Random(seed)
    for insee, org_name, org_id, commune_box in communes:
        for index in range(per_commune):
            package_id = f"{insee}-{index:06d}"
            word = rng.choice(WORDS)
            own = rng.random() < 0.4
            box = inner_box(rng, commune_box) if own else commune_box
            title = f"{word.capitalize()} {index} de {org_name}"
            licence = rng.choice(LICENCES)
            dataset = {"id": package_id, "name": f"jeu-{package_id}", "title": title, "type": "dataset",
                       "owner_org": org_id, "license_id": licence, "state": "active", "private": False,
                       "metadata_created": "2024-01-01T00:00:00", "metadata_modified": "2024-01-01T00:00:00",
                       "num_resources": 0, "num_tags": 0, "resources": [], "tags": [], "extras": [],
                       "organization": {"id": org_id, "name": org_name, "title": org_name}}
            west, south, east, north = box
            yield {
                "index_id": hashlib.md5(f"{package_id}{site_id}".encode()).hexdigest(),
                "id": package_id, "site_id": site_id, "name": dataset["name"], "title": title,
                "text": [title, f"Les {word} de {org_name}."], "notes": f"Les {word} de {org_name}.",
                "entity_type": "package", "dataset_type": "dataset", "state": "active", "capacity": "public",
                "permission_labels": ["public"], "owner_org": org_id, "organization": org_name,
                "vocab_commune": [insee], "license_id": licence,
                "metadata_created": "2024-01-01T00:00:00Z", "metadata_modified": "2024-01-01T00:00:00Z",
                "data_dict": json.dumps(dataset), "validated_data_dict": json.dumps(dataset),
                # schema/spatial.py (index_extent) and ckanext-spatial's solr-bbox backend:
                "spatial": bbox_geojson(box), "extras_spatial": bbox_geojson(box),
                "vocab_spatial_origin": ["spatial" if own else "territory"],
                "minx": west, "miny": south, "maxx": east, "maxy": north,
                "bbox_area": (east - west) * (north - south),
            }


def search_box(rng: random.Random, area: tuple[float, float, float, float]) -> str:
    """A box of 1 to 10 km inside the Métropole, as ``minx,miny,maxx,maxy``."""
    west, south, east, north = area
    size = rng.uniform(0.013, 0.13)  # degrees of longitude, about 1 to 10 km at 45.7° N
    x, y = rng.uniform(west, east - size), rng.uniform(south, north - size * 0.7)
    return f"{x:.5f},{y:.5f},{x + size:.5f},{y + size * 0.7:.5f}"


def medians(turns: int, ours: Callable[[int], Any], baseline: Callable[[int], Any]) -> tuple[float, float]:
    """Median times of ours and of the baseline over ``turns`` turns (each turn its own query, both sides
    alternately first), after a warm-up turn."""
    ours(-1)
    baseline(-1)
    times: tuple[list[float], list[float]] = ([], [])
    for turn in range(turns):
        order = ((0, ours), (1, baseline)) if turn % 2 == 0 else ((1, baseline), (0, ours))
        for side, run in order:
            start = time.perf_counter()
            run(turn)
            times[side].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def polygon_in(box: tuple[float, float, float, float], vertices: int = 64) -> dict[str, Any]:
    """A closed ring of ``vertices`` points: an ellipse inside the box (an extent an editor or a source drew)."""
    west, south, east, north = box
    cx, cy, rx, ry = (west + east) / 2, (south + north) / 2, (east - west) / 4, (north - south) / 4
    ring = [[round(cx + rx * math.cos(2 * math.pi * k / vertices), 7),
             round(cy + ry * math.sin(2 * math.pi * k / vertices), 7)] for k in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - a script reads best top to bottom
    parser = argument_parser(__doc__)
    parser.add_argument("--core", default="ckan_bench_place", help="dedicated Solr core (created when missing)")
    parser.add_argument("--per-commune", type=int, default=1000, help="indexed datasets per commune (x 58)")
    parser.add_argument("--turns", type=int, default=40, help="search turns (each its own word and box)")
    parser.add_argument("--reindex", type=int, default=300, help="datasets created in the database, reindexed")
    parser.add_argument("--repeat", type=int, default=3, help="reindexes per side, in turns, best kept")
    parser.add_argument("--keep-index", action="store_true", help="reuse the core's documents when filled")
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
    from ckan.lib import search as search_index

    from ckanext.communes.communes import registry, seeding

    print(f"WARNING: wiping the database of {args.ckan_ini} "
          f"({tk.config.get('sqlalchemy.url', '').rsplit('@', 1)[-1]}); index: dedicated core {bench_solr}")
    rows: list[tuple[str, str, float, str, float, str]] = []
    with flask_app.test_request_context():
        wipe()
        seeding.seed()
        tk.config["solr_url"] = bench_solr  # every search and index below goes to the bench core
        communes = [(c.insee, c.slug, model.Group.get(c.slug).id, registry.get_commune_geometry(c.insee).bbox)
                    for c in registry.all_communes()]
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

        # ------------------------------------------------------------------ (a) search
        package_search = tk.get_action("package_search")
        metropole = registry.metropole_bbox()
        rng = random.Random(5)
        plan = [(rng.choice(WORDS), search_box(rng, metropole)) for _ in range(args.turns + 1)]

        def params(turn: int) -> dict[str, Any]:
            return {"q": plan[turn][0], "rows": 20, "facet.field": list(FACETS), "facet.limit": 50}

        def with_box(turn: int) -> Any:
            return package_search({"ignore_auth": True}, {**params(turn), "ext_bbox": plan[turn][1]})

        def without_box(turn: int) -> Any:
            return package_search({"ignore_auth": True}, params(turn))

        everything = package_search({"ignore_auth": True}, {"q": "*:*", "rows": 0})
        assert everything["count"] == total, (everything["count"], total)
        sample = range(min(args.turns, 10))
        narrowed, alone = [with_box(t)["count"] for t in sample], [without_box(t)["count"] for t in sample]
        print(f"over {len(sample)} turns, a word and a box find {min(narrowed)} to {max(narrowed)} datasets, "
              f"the word alone {min(alone)} to {max(alone)}")
        ours, base = medians(args.turns, with_box, without_box)
        rows.append(("(a) bbox search, another box each turn", "q + ext_bbox", ours,
                     f"the same q without ext_bbox ({total} docs)", base, "<= 1.5"))
        ours, base = medians(args.turns, lambda t: with_box(0), lambda t: without_box(0))
        rows.append(("(a') the same box again (paging)", "q + ext_bbox", ours, "the same q without ext_bbox", base,
                     "<= 1.5"))
        clear(bench_solr)

        # ------------------------------------------------------------------ (b) reindex
        user = make_sysadmin()
        tk.config["ckan.search.solr_commit"] = False  # one Solr commit at the end, not one per dataset created
        rng = random.Random(3)
        ids = []
        start = time.perf_counter()
        for index in range(args.reindex):
            insee, org_name, org_id, box = communes[index % len(communes)]
            dataset = tk.get_action("package_create")({"user": user}, {
                "name": f"bench-lieu-{index:05d}", "title": f"{rng.choice(WORDS).capitalize()} {index}",
                "notes": "Une emprise dessinée.", "owner_org": org_id, "license_id": "etalab-2.0",
                "theme": ["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
                "spatial": json.dumps(polygon_in(box))})
            ids.append(dataset["id"])
        search_index.commit()
        tk.config["ckan.search.solr_commit"] = True
        print(f"created {len(ids)} datasets with an extent in {time.perf_counter() - start:.0f} s")
        extents = {row[0]: row[1] for row in model.Session.execute(sa.text(
            "SELECT id, extras->>'spatial' FROM package WHERE id = ANY(:ids)"), {"ids": ids})}
        assert all(extents.values()) and len(extents) == len(ids)

        def set_extents(present: bool) -> None:
            """Each dataset's stored extent (``spatial``, in CKAN 2.12's JSONB extras) put back or taken out."""
            if present:
                model.Session.execute(sa.text(
                    "UPDATE package SET extras = jsonb_set(extras, '{spatial}', to_jsonb(CAST(:v AS text))) "
                    "WHERE id = :id"), [{"id": i, "v": v} for i, v in extents.items()])
            else:
                model.Session.execute(sa.text("UPDATE package SET extras = extras - 'spatial' WHERE id = ANY(:ids)"),
                                      {"ids": ids})
            model.Session.commit()

        def reindex() -> float:
            start = time.perf_counter()
            search_index.rebuild(package_ids=ids, defer_commit=True, quiet=True)
            search_index.commit()
            return time.perf_counter() - start

        best = [float("inf"), float("inf")]
        for turn in range(args.repeat + 1):  # the first turn warms both up
            for side in ((0, 1) if turn % 2 == 0 else (1, 0)):
                set_extents(side == 0)
                elapsed = reindex()
                if turn:
                    best[side] = min(best[side], elapsed)
        origins = package_search({"ignore_auth": True},
                                 {"q": "*:*", "rows": 0, "facet.field": ["vocab_spatial_origin"]})
        print("spatial origins after the last reindex:", origins["facets"].get("vocab_spatial_origin"))
        rows.append((f"(b) reindex of {len(ids)} datasets", "each with its extent (64-vertex polygon)", best[0],
                     "the same, extent removed (commune's box)", best[1], "-"))
        clear(bench_solr)
        wipe()

    header = ("measure", "ours", "time ms", "baseline", "time ms", "ratio", "target")
    cells = [(r[0], r[1], f"{r[2] * 1000:.1f}", r[3], f"{r[4] * 1000:.1f}", f"{r[2] / r[4]:.2f}", r[5]) for r in rows]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
