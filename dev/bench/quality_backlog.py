"""Background checks keeping up with a harvest (issue #20), ``make bench``:

    python dev/bench/quality_backlog.py --ckan-ini test.ini [--datasets 2000] [--hosts 100]

A DCAT catalogue of ``--datasets`` datasets (harvest.py's: Hydra pages of 100, 3 distributions each) is
served by a real HTTP server; its links point at a second server that answers every HEAD, reached under
``--hosts`` loopback addresses (127.0.0.2, 127.0.0.3...) so that the link checker's per-host limits apply
as they would to that many communes' servers (one host: at most 1 / per_host_interval checks a second,
whatever the batching). One ``ckan jobs worker`` listens to the queues as dev/run.sh starts it (its own
process: the environment it loads, as in production). From an empty database and index:

(a) the harvest (gather, fetch, import: harvesters/jobs.run_source, in this process) while the worker
    checks what it saves;
(b) the time from the end of the harvest until every dataset has its SHACL result, a link result for
    each of its links, and its score in the index computed from them.

With ``--backlog`` the worker starts only once the harvest is over: (c) the time it takes to check the
whole harvest, the checks' own throughput (datasets per second) rather than the harvest's pace.

Targets: (b)/(a) <= 0.5; datasets checked per second >= 20 on a 2-core machine. Runs on the
code of before the batching too (one job per save: the worker then listens to the default queue), to
measure "before". WIPES the database it is pointed at: refused unless its name ends in ``_test``.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harvest import CatalogueServer  # noqa: E402
from portal import argument_parser, fresh_portal, make_source, open_app  # noqa: E402

QUEUES = ["communes_quality", "default", "communes_quality_bulk"]


class LinkServer:
    """Answers 200 to every HEAD/GET, on every loopback address."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", "10")
                self.end_headers()

            do_GET = do_HEAD  # noqa: N815

        self.httpd = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.port = self.httpd.server_port


def loopback_links(catalogue: CatalogueServer, port: int, hosts: int) -> None:
    """The catalogue's links on ``hosts`` loopback addresses (127.0.0.2, 127.0.0.3...) of the link server."""
    for path, body in list(catalogue.pages.items()):
        catalogue.pages[path] = re.sub(
            rb"https://data\.example\.org/(\d+)/",
            lambda m: (f"http://127.0.{1 + int(m.group(1)) % hosts // 250}."
                       f"{2 + int(m.group(1)) % hosts % 250}:{port}/{m.group(1)}/").encode(), body)


def worker_ini(ckan_ini: str, folder: str) -> str:
    path = os.path.join(folder, "worker.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"[app:main]\nuse = config:{os.path.abspath(ckan_ini)}\n"
                "ckanext.communes.fetch.allow_private_addresses = true\n")
    return path


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has waited for (the worker's work horses)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def evidence_counts() -> tuple[int, int, int]:
    """(datasets, datasets with a SHACL result, links with a result for their current URL)."""
    from ckan import model
    from sqlalchemy import text

    model.Session.rollback()
    row = model.Session.execute(text(
        "SELECT (SELECT count(*) FROM package WHERE state = 'active' AND type = 'dataset'),"
        " (SELECT count(*) FROM communes_shacl_check s JOIN package p ON p.id = s.package_id),"
        " (SELECT count(*) FROM communes_link_check l JOIN resource r ON r.id = l.resource_id"
        "  WHERE r.state = 'active' AND l.url = r.url AND l.checked_at IS NOT NULL)")).one()
    model.Session.rollback()
    return int(row[0]), int(row[1]), int(row[2])


def index_matches() -> bool:
    """Every dataset's indexed score is the one its stored results give (no criterion still pending)."""
    import ckan.plugins.toolkit as tk

    start = 0
    while True:
        results = tk.get_action("package_search")({"ignore_auth": True}, {
            "q": "*:*", "rows": 1000, "start": start, "sort": "id asc",
            "fq": "vocab_quality_missed:shacl OR vocab_quality_missed:links"})
        if any(m["pending"] for dataset in results["results"] for m in dataset["quality"]["missed"]):
            return False
        start += 1000
        if start >= results["count"]:
            return True


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--backlog", action="store_true",
                        help="start the worker only once the harvest is over: the checks' own throughput")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import jobs

    from ckanext.communes.harvesters import jobs as harvest_jobs

    catalogue, links = CatalogueServer(), LinkServer()
    with flask_app.test_request_context(), tempfile.TemporaryDirectory(prefix="bench-backlog-") as folder:
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        url = catalogue.publish("main", args.datasets)
        loopback_links(catalogue, links.port, args.hosts)
        user, bron = fresh_portal()
        for queue in QUEUES:
            jobs.get_queue(queue).empty()
        source = make_source(user, bron["id"], url, "communes_dcat")
        ckan = pathlib.Path(sys.executable).parent / "ckan"
        command = [str(ckan), "-c", worker_ini(args.ckan_ini, folder), "jobs", "worker", *QUEUES]
        worker = None
        if not args.backlog:
            worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
            time.sleep(3)  # the worker up before the harvest starts, as under `make run`
        try:
            started = time.perf_counter()
            job = harvest_jobs.run_source(source)
            harvested = time.perf_counter()
            if worker is None:  # the backlog: every dataset of the harvest waits, the worker starts now
                worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)
            added = job["stats"].get("added", 0)
            counts = evidence_counts()
            while time.perf_counter() - harvested < args.timeout:
                counts = evidence_counts()
                if counts[1] >= counts[0] and counts[2] >= 3 * counts[0] and index_matches():
                    break
                time.sleep(1)
            done = time.perf_counter()
            cpu = cpu_seconds(worker.pid) if worker is not None else 0.0
        finally:
            if worker is not None:
                os.killpg(worker.pid, 15)
                worker.wait(60)
    harvest_time, after = harvested - started, done - harvested
    # The machine may be shared: the worker's own CPU time says what the checks cost, whatever the load.
    print(f"worker CPU time {cpu:.1f} s: {counts[1] / max(cpu, 0.1):.1f} datasets per CPU-second "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if args.backlog:
        print(f"(c) backlog of {added} harvested datasets checked by one worker started after the harvest: "
              f"{after:.1f} s, {counts[1] / after:.1f} datasets/s (target >= 20); evidence = {counts}")
        return 0
    print(f"(a) harvest of {added} datasets ({3 * added} links on {args.hosts} hosts): {harvest_time:.1f} s")
    print(f"(b) checks finished {after:.1f} s after the harvest; evidence (datasets, SHACL, links) = {counts}")
    print(f"ratio (b)/(a) = {after / harvest_time:.2f}   target <= 0.5")
    print(f"datasets checked per second over (a)+(b) = {counts[1] / (harvest_time + after):.1f}   target >= 20")
    return 0


if __name__ == "__main__":
    sys.exit(main())
