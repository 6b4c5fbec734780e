"""Licence normaliser benchmark (issue #22): normalising N licence strings (a realistic mix) with the normaliser
that reads names (conventions, registry, name and URL reader, cache) vs the exact-alias lookup it replaced
(copied below as the baseline, over the same registry).

    python dev/bench/licences.py --ckan-ini test.ini [--strings 100000] [--rounds 3] [--unique 0.05]

The mix: what a harvest meets. Registry and source ids (lov2, odc-odbl, etalab-2.0...) and portals' labels
from the table test (tests/licences/test_licence_strings.py, with their source type's convention), drawn with
a fixed seed, plus a share (``--unique``) of strings seen once (« Licence de la commune n°123 ») that no cache
helps. Each round times, in turn: the baseline; the new normaliser from a cold cache; the new normaliser's
string path with its caches off (what the cache buys). The ratios are new / baseline (lower is faster); the
median over the rounds is reported. The CKAN app is loaded (``--ckan-ini``) as in a harvest, so that the
operator aliases read what they read there. Wipes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import pathlib
import random
import re
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, load_app  # noqa: E402

# ---- The baseline: the exact-alias lookup of the normaliser before issue #22 (licences/normalise.py at
# commit c58f18a), unchanged but for its names.
BASELINE_ORDER = ("id", "spdx", "udata_id", "eu_uri", "url", "alternate_url", "title", "alternate_title")
BASELINE_URL_KINDS = frozenset({"eu_uri", "url", "alternate_url"})
_BASELINE_SPDX_URL = re.compile(r"^spdx\.org/licenses/([^/]+?)(?:\.html|\.json)?$")


@functools.cache
def _baseline_indices() -> dict[str, dict[str, frozenset[str]]]:
    from ckanext.communes.licences.naming import text_key, url_key
    from ckanext.communes.licences.registry import all_licences

    indices: dict[str, dict[str, set[str]]] = {kind: {} for kind in BASELINE_ORDER}

    def add(kind: str, raw: str, licence_id: str) -> None:
        if raw:
            key = url_key(raw) if kind in BASELINE_URL_KINDS else text_key(raw)
            indices[kind].setdefault(key, set()).add(licence_id)

    for licence in all_licences():
        add("id", licence.id, licence.id)
        add("spdx", licence.spdx, licence.id)
        add("udata_id", licence.udata_id, licence.id)
        add("eu_uri", licence.eu_uri, licence.id)
        add("url", licence.url, licence.id)
        for url in licence.alternate_urls:
            add("alternate_url", url, licence.id)
        add("title", licence.title, licence.id)
        for title in (*licence.alternate_titles, licence.udata_title):
            add("alternate_title", title, licence.id)
    return {kind: {k: frozenset(v) for k, v in index.items()} for kind, index in indices.items()}


def baseline_normalize(value: str | None) -> str | None:
    from ckanext.communes.licences.naming import looks_like_url, text_key, url_key

    stripped = (value if isinstance(value, str) else "").strip()
    if not stripped:
        return None
    indices = _baseline_indices()
    is_url = looks_like_url(stripped)
    keys = {"text": text_key(stripped), "url": url_key(stripped) if is_url else None}
    for kind in BASELINE_ORDER:
        key = keys["url"] if kind in BASELINE_URL_KINDS else keys["text"]
        if key is None:
            continue
        ids = indices[kind].get(key)
        if ids:
            return next(iter(ids)) if len(ids) == 1 else None
    if is_url:
        spdx_url = _BASELINE_SPDX_URL.match(url_key(stripped))
        if spdx_url:
            ids = indices["spdx"].get(text_key(spdx_url.group(1)))
            if ids and len(ids) == 1:
                return next(iter(ids))
    return None


# ---- The mix.
# (value, source type, weight): the ids most harvested datasets carry, as udata, CKAN and Opendatasoft write them.
COMMON = [
    ("lov2", "udata", 30), ("odc-odbl", "udata", 8), ("fr-lo", "udata", 4), ("notspecified", "udata", 6),
    ("cc-by", "ckan", 5), ("odc-odbl", "ckan", 3), ("etalab-2.0", "dcat", 6),
    ("http://publications.europa.eu/resource/authority/licence/ETALAB_2_0", "dcat", 6),
    ("Licence Ouverte v2.0 (Etalab)", "ods", 12), ("Licence Ouverte (Etalab)", "ods", 6),
    ("Open Database License (ODbL)", "ods", 5), ("Licence Engagée", "csw", 2),
    ("Pas de restriction d'accès public", "csw", 3),
]


def the_mix(count: int, unique_share: float, seed: int = 22) -> list[tuple[str, str | None]]:
    from ckanext.communes.tests.licences.test_licence_strings import STRINGS

    rng = random.Random(seed)
    labelled = [(value, convention) for value, convention, _ in STRINGS]
    common = [(value, convention) for value, convention, _ in COMMON]
    weights = [weight for _, _, weight in COMMON]
    mix: list[tuple[str, str | None]] = []
    for i in range(count):
        draw = rng.random()
        if draw < unique_share:
            mix.append((f"Licence de la commune n°{i} (voir conditions)", rng.choice([None, "csw", "ods"])))
        elif draw < 0.6:
            mix.append(rng.choices(common, weights)[0])
        else:
            mix.append(rng.choice(labelled))
    return mix


def clear_caches() -> None:
    from ckanext.communes.licences import naming, normalise

    normalise._match.cache_clear()
    naming.read_name.cache_clear()
    naming.read_url.cache_clear()


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--strings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unique", type=float, default=0.05, help="share of strings seen once (default 0.05)")
    args = parser.parse_args()
    app = load_app(args.ckan_ini)
    from ckanext.communes.licences import naming, normalise
    from ckanext.communes.licences.normalise import normalize_licence

    mix = the_mix(args.strings, args.unique)
    _baseline_indices()
    normalise._indices()
    normalise._conventions()

    def run_baseline() -> None:
        for value, _convention in mix:
            baseline_normalize(value)

    def run_new() -> None:
        for value, convention in mix:
            normalize_licence(value, convention)

    uncached_match = normalise._match.__wrapped__

    def run_uncached() -> None:
        # The string path with every cache off: _match's and the reader's.
        read_name, read_url = naming.read_name, naming.read_url
        normalise.read_name, normalise.read_url = read_name.__wrapped__, read_url.__wrapped__
        try:
            for value, convention in mix:
                stripped = value.strip()
                if stripped:
                    uncached_match(stripped, convention)
        finally:
            normalise.read_name, normalise.read_url = read_name, read_url

    flask_app = app._wsgi_app if hasattr(app, "_wsgi_app") else app
    with flask_app.app_context() if hasattr(flask_app, "app_context") else contextlib.nullcontext():
        rows = []
        for _ in range(args.rounds):
            baseline = timed(run_baseline)
            clear_caches()
            new = timed(run_new)
            uncached = timed(run_uncached)
            rows.append((baseline, new, uncached))
        recognised_new = sum(1 for value, convention in mix if normalize_licence(value, convention).licence)
        recognised_old = sum(1 for value, _ in mix if baseline_normalize(value))

    n = len(mix)
    print(f"Licence normaliser: {n:,} strings ({args.unique:.0%} seen once), {args.rounds} rounds")
    print("round | baseline (exact aliases) | new, cold cache | new, no cache | new/baseline | no cache/baseline")
    for i, (baseline, new, uncached) in enumerate(rows, 1):
        print(f"{i} | {baseline:.3f} s | {new:.3f} s | {uncached:.3f} s | {new / baseline:.2f} | "
              f"{uncached / baseline:.2f}")
    median_ratio = statistics.median(new / baseline for baseline, new, _ in rows)
    median_uncached = statistics.median(uncached / baseline for baseline, _, uncached in rows)
    median_new = statistics.median(new for _, new, _ in rows)
    print(f"median new/baseline: {median_ratio:.2f} (no cache: {median_uncached:.2f}); "
          f"new: {median_new / n * 1e6:.2f} µs per string")
    print(f"strings recognised: new {recognised_new:,}, baseline {recognised_old:,}")
    print(f"cache: {normalise._match.cache_info()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
