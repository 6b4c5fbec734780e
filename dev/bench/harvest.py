"""Harvesting benchmark (``make bench``): ratios measured in one run, on the same machine and data.

    python dev/bench/harvest.py --ckan-ini test.ini [--datasets 2000] [--memory-small 1000] [--memory-large 10000]

A DCAT catalogue of ``--datasets`` datasets (Turtle, Hydra pages of 100, 3 distributions each) is served
by a real HTTP server on 127.0.0.1. Each run starts from an empty database and index:

(a) the floor: package_create of the same mapped datasets our harvester would save (same validators,
    harvest context), no harvesting around it;
(b) our DCAT harvester (communes_dcat), gather + fetch + import (harvesters/stages.py);
(c) the same source harvested again, unchanged (and the activities it created: must be 0);
(d) ckanext-dcat's stock ``dcat_rdf`` harvester on the same catalogue, through ckanext-harvest's stages;
(e) peak memory (resident set, sampled) of our gather stage on a ``--memory-small`` and a
    ``--memory-large`` catalogue.

Targets (issue #8): (b)/(a) <= 1.3; (d)/(b) >= 1.5; (c)/(b) <= 0.1; memory not growing with the catalogue
beyond the list of GUIDs. WIPES the database it is pointed at: refused unless its name ends in ``_test``
(or ``--allow-wipe``).
"""

from __future__ import annotations

import pathlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, fresh_portal, make_source, mapped_datasets, open_app, timed  # noqa: E402

PAGE_SIZE = 100
EU = "http://publications.europa.eu/resource/authority"
THEMES = ("ENVI", "TRAN", "GOVE", "EDUC", "SOCI")
FORMATS = (("CSV", "csv"), ("JSON", "json"), ("GEOJSON", "geojson"))


def catalogue_pages(base: str, count: int) -> dict[str, bytes]:
    """path -> Turtle page of a Hydra-paged catalogue of ``count`` datasets."""
    pages: dict[str, bytes] = {}
    total_pages = max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE)
    for page in range(1, total_pages + 1):
        lines = [
            "@prefix dcat: <http://www.w3.org/ns/dcat#> .", "@prefix dct: <http://purl.org/dc/terms/> .",
            "@prefix foaf: <http://xmlns.com/foaf/0.1/> .", "@prefix hydra: <http://www.w3.org/ns/hydra/core#> .",
            f"<{base}/catalog> a dcat:Catalog .",
            f"<{base}/catalog?page={page}> a hydra:PagedCollection ; "
            f"hydra:totalItems {count} ; hydra:itemsPerPage {PAGE_SIZE} ; "
            f"hydra:firstPage \"{base}/page/1.ttl\" ; hydra:lastPage \"{base}/page/{total_pages}.ttl\""
            + (f" ; hydra:nextPage \"{base}/page/{page + 1}.ttl\"" if page < total_pages else "") + " .",
        ]
        for index in range((page - 1) * PAGE_SIZE, min(page * PAGE_SIZE, count)):
            uri = f"{base}/ds/{index}"
            distributions = ", ".join(f"<{uri}/d{n}>" for n in range(3))
            lines.append(
                f"<{base}/catalog> dcat:dataset <{uri}> .\n"
                f"<{uri}> a dcat:Dataset ; dct:identifier \"jeu-{index}\" ; dct:title \"Jeu de données {index}\" ; "
                f"dct:description \"Description du jeu de données {index}, publié par la commune.\" ; "
                f"dcat:keyword \"banc essai\", \"jeu {index % 50}\" ; "
                f"dcat:theme <{EU}/data-theme/{THEMES[index % len(THEMES)]}> ; "
                f"dct:accrualPeriodicity <{EU}/frequency/ANNUAL> ; "
                f"dct:publisher [ a foaf:Agent ; foaf:name \"Ville de Bron\" ] ; dcat:distribution {distributions} ."
            )
            for n, (code, extension) in enumerate(FORMATS):
                lines.append(
                    f"<{uri}/d{n}> a dcat:Distribution ; dct:title \"Données {code}\" ; "
                    f"dcat:accessURL <https://data.example.org/{index}/donnees.{extension}> ; "
                    f"dct:format <{EU}/file-type/{code}> ; dct:license <{EU}/licence/ETALAB_2_0> ."
                )
        pages[f"/page/{page}.ttl"] = "\n".join(lines).encode("utf-8")
    return pages


class CatalogueServer:
    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = server.pages.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/turtle")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"

    def publish(self, prefix: str, count: int) -> str:
        base = f"{self.base}/{prefix}"
        self.pages.update({f"/{prefix}{path}": body for path, body in catalogue_pages(base, count).items()})
        return f"{base}/page/1.ttl"


class PeakRSS:
    """Peak resident set size of this process while the block runs, sampled every 20 ms (no overhead on
    the measured code, unlike tracemalloc)."""

    def __enter__(self) -> PeakRSS:
        self.baseline = self._rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20


def activity_count() -> int:
    from ckan import model
    from ckanext.activity.model import Activity

    return model.Session.query(Activity).count()


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--memory-small", type=int, default=1000)
    parser.add_argument("--memory-large", type=int, default=10000)
    args = parser.parse_args(argv)

    # ckanext-dcat's stock RDF harvester, the baseline, next to ours.
    flask_app = open_app(args, extra_plugins="dcat_rdf_harvester")
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan import model
    from ckan.lib import search
    from ckanext.harvest.model import HarvestJob

    from ckanext.communes.harvesters import jobs
    from ckanext.communes.harvesters.base import harvester_for
    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG

    server = CatalogueServer()
    results: list[tuple[str, str]] = []
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False  # one commit per run, for every variant alike
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        url = server.publish("main", args.datasets)

        user, bron = fresh_portal()
        datasets = mapped_datasets("communes_dcat", url, bron["id"])
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
        create = tk.get_action("package_create")

        def floor() -> None:
            for index, dataset in enumerate(datasets):
                create({"user": site_user, "ignore_auth": True, HARVEST_CONTEXT_FLAG: True, "return_id_only": True},
                       {**dataset, "name": f"floor-{index}"})
            search.commit()

        floor_time, _ = timed(floor)

        user, bron = fresh_portal()
        source = make_source(user, bron["id"], url, "communes_dcat")
        ours_time, job = timed(lambda: jobs.run_source(source))
        search.commit()
        created = job["stats"].get("added", 0)
        activities = activity_count()
        again_time, again = timed(lambda: jobs.run_source(source))
        new_activities = activity_count() - activities

        user, bron = fresh_portal()
        stock_source = make_source(user, bron["id"], url, "dcat_rdf")
        stock_time, stock_job = timed(lambda: jobs.run_source(stock_source))
        search.commit()

        memory = {}
        for size in (args.memory_small, args.memory_large):
            user, bron = fresh_portal()
            memory_url = server.publish(f"mem{size}", size)
            source_id = make_source(user, bron["id"], memory_url, "communes_dcat")
            job_id = jobs.create_job(source_id)
            harvest_job = HarvestJob.get(job_id)
            harvester = harvester_for("communes_dcat")
            with PeakRSS() as peak:
                started = time.perf_counter()
                harvester.gather_stage(harvest_job)
                elapsed = time.perf_counter() - started
            memory[size] = (peak.growth_mib, elapsed)
            model.Session.remove()

    results = [
        (f"(a) floor: package_create of {len(datasets)} mapped datasets", f"{floor_time:.1f} s"),
        (f"(b) our DCAT harvester, first harvest ({created} added)", f"{ours_time:.1f} s"),
        ("(c) our DCAT harvester, unchanged source again "
         f"({again['stats'].get('added', 0)} added, {again['stats'].get('updated', 0)} updated)",
         f"{again_time:.1f} s"),
        (f"(d) ckanext-dcat stock dcat_rdf harvester ({stock_job['stats'].get('added', 0)} added)",
         f"{stock_time:.1f} s"),
    ]
    for summary in ((stock_job.get("object_error_summary") or [])[:3]
                    + (stock_job.get("gather_error_summary") or [])[:3]):
        print("stock harvester error:", str(summary)[:500])
    width = max(len(r[0]) for r in results)
    print()
    for label, value in results:
        print(f"{label.ljust(width)} | {value}")
    print(f"\nratio ours/floor        (b)/(a) = {ours_time / floor_time:.2f}   target <= 1.3")
    print(f"ratio stock/ours        (d)/(b) = {stock_time / ours_time:.2f}   target >= 1.5")
    print(f"ratio again/first       (c)/(b) = {again_time / ours_time:.3f}  target <= 0.1; "
          f"new activities: {new_activities}")
    for size, (growth, elapsed) in memory.items():
        print(f"gather of {size} datasets: peak RSS growth {growth:.1f} MiB ({elapsed:.1f} s)")
    small, large = memory[args.memory_small][0], memory[args.memory_large][0]
    print(f"memory ratio {args.memory_large}/{args.memory_small}: {large / max(small, 0.1):.2f} "
          f"(catalogue ratio {args.memory_large / args.memory_small:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
