"""Background checks keeping up with a harvest (issue #20), ``make bench``:

    python dev/bench/quality_backlog.py --ckan-ini test.ini [--datasets 2000] [--hosts 100] [--backlog]
        [--workers 2]

A DCAT catalogue of ``--datasets`` datasets (harvest.py's: Hydra pages of 100, 3 distributions each) is
served by a real HTTP server; its links point at a second server that answers every HEAD, reached under
``--hosts`` loopback addresses (127.0.0.2, 127.0.0.3...) so that the link checker's per-host limits apply
as they would to that many communes' servers (one host: at most 1 / per_host_interval checks a second,
whatever the batching). The workers are those dev/run.sh (``make run``) starts, each its own process
loading its own environment: ``ckan communes harvest gather-worker``, ``fetch-worker``, ``run-periodic``
(every 5 s here, 60 s under ``make run``: it closes the finished job) and ``ckan jobs worker
communes_quality default communes_quality_bulk``, plus, as ``make run`` does, one ``ckan jobs worker
communes_quality_bulk`` (``--workers N``: N jobs workers in all, the first on every queue, the others on the
bulk queue; 2 by default, 1 to measure a single worker). From an empty database and index, a harvest job is created
and queued (as the operators' « Moissonner » button does), then:

(a) the harvest: from the job's creation to its last dataset imported (the job's ``finished``), while the
    jobs worker checks what it saves;
(b) the time from the end of the harvest until every dataset has its SHACL result, a link result for
    each of its links, and its score in the index computed from them.

With ``--backlog`` the jobs worker starts only once the harvest is over: (c) the time it takes to check the
whole harvest, the checks' own throughput (datasets per second) rather than the harvest's pace.

Printed with each measure: the jobs workers' CPU time (the machine may be shared: it says what the checks
cost whatever the load) and the load average (``uptime``) at the start and the end.

Targets: (b)/(a) <= 0.5; datasets checked per second >= 20 on a 2-core machine. To measure "before" on
another version of quality/, check it out in the working tree for the run (the script only reads the
tables and the index). WIPES the database it is pointed at: refused unless its name ends in ``_test``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import re
import signal
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
BULK_QUEUES = ["communes_quality_bulk"]  # make run's second jobs worker


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


def start(ckan: pathlib.Path, ini: str, *command: str, log: pathlib.Path) -> subprocess.Popen[bytes]:
    """A worker as dev/run.sh starts it, in its own process group, its output in ``log``."""
    out = open(log, "ab")  # noqa: SIM115 - the worker's own log, kept with the run's folder
    return subprocess.Popen([str(ckan), "-c", ini, *command], stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    """TERM to each worker's process group (the jobs worker's work horse with it), KILL after 15 s."""
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(15)


def harvest_finished(job_id: str) -> dt.datetime | None:
    """When the job's last dataset was imported, once run-periodic has closed the job."""
    from ckan import model
    from ckanext.harvest.model import HarvestJob

    model.Session.rollback()
    job = model.Session.get(HarvestJob, job_id)
    finished = job.finished if job is not None and job.status == "Finished" else None
    model.Session.rollback()
    return finished


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--backlog", action="store_true",
                        help="start the jobs worker only once the harvest is over: the checks' own throughput")
    parser.add_argument("--workers", type=int, default=2,
                        help="jobs workers: the first on every queue, the others on the bulk queue (make run: 2)")
    parser.add_argument("--logs", help="folder for the workers' logs (default: a temporary one)")
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import jobs
    from ckanext.harvest import queue as harvest_queue

    catalogue, links = CatalogueServer(), LinkServer()
    with flask_app.test_request_context(), tempfile.TemporaryDirectory(prefix="bench-backlog-") as folder:
        logs = pathlib.Path(args.logs or folder)
        logs.mkdir(parents=True, exist_ok=True)
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        url = catalogue.publish("main", args.datasets)
        loopback_links(catalogue, links.port, args.hosts)
        user, bron = fresh_portal()
        for queue in QUEUES:
            jobs.get_queue(queue).empty()
        harvest_queue.purge_queues()
        source = make_source(user, bron["id"], url, "communes_dcat")
        ckan, ini = pathlib.Path(sys.executable).parent / "ckan", worker_ini(args.ckan_ini, folder)
        harvest_workers = [
            start(ckan, ini, "communes", "harvest", "gather-worker", log=logs / "harvest-gather.log"),
            start(ckan, ini, "communes", "harvest", "fetch-worker", log=logs / "harvest-fetch.log"),
            start(ckan, ini, "communes", "harvest", "run-periodic", "--every", "5", log=logs / "harvest-run.log"),
        ]

        def start_checks_workers() -> list[subprocess.Popen[bytes]]:
            return [start(ckan, ini, "jobs", "worker", *(BULK_QUEUES if n else QUEUES),
                          log=logs / f"jobs-worker-{n}.log") for n in range(max(1, args.workers))]

        checks_workers: list[subprocess.Popen[bytes]] = []
        if not args.backlog:
            checks_workers = start_checks_workers()
        time.sleep(5)  # the workers up before the harvest starts, as under `make run`
        load_before = load()
        try:
            started = dt.datetime.utcnow()
            job = tk.get_action("harvest_job_create")({"user": user}, {"source_id": source, "run": True})
            finished = None
            while finished is None and (dt.datetime.utcnow() - started).total_seconds() < args.timeout:
                time.sleep(1)
                finished = harvest_finished(job["id"])
            if finished is None:
                print(f"the harvest did not finish within {args.timeout} s", file=sys.stderr)
                return 1
            load_harvested = load()
            if not checks_workers:  # the backlog: every dataset of the harvest waits, the workers start now
                checks_workers = start_checks_workers()
                harvest_end = dt.datetime.utcnow()
            else:
                harvest_end = finished
            counts = evidence_counts()
            while (dt.datetime.utcnow() - harvest_end).total_seconds() < args.timeout:
                counts = evidence_counts()
                if counts[1] >= counts[0] and counts[2] >= 3 * counts[0] and index_matches():
                    break
                time.sleep(1)
            done = dt.datetime.utcnow()
            cpu = sum(cpu_seconds(worker.pid) for worker in checks_workers)
            load_done = load()
            job = tk.get_action("harvest_job_show")({"user": user}, {"id": job["id"]})
        finally:
            stop(harvest_workers + checks_workers)
    added = (job.get("stats") or {}).get("added", 0)
    harvest_time, after = (finished - started).total_seconds(), (done - harvest_end).total_seconds()
    print(f"load: {load_before} before the harvest, {load_harvested} at its end, {load_done} when checked "
          f"({os.cpu_count()} cores)")
    print(f"{len(checks_workers)} jobs worker(s), CPU time {cpu:.1f} s: "
          f"{counts[1] / max(cpu, 0.1):.1f} datasets per CPU-second")
    if args.backlog:
        print(f"(a) harvest of {added} datasets with the harvest workers: {harvest_time:.1f} s")
        print(f"(c) backlog of {added} harvested datasets checked by {len(checks_workers)} jobs "
              f"worker(s) started after the harvest: "
              f"{after:.1f} s, {counts[1] / after:.1f} datasets/s (target >= 20); evidence = {counts}")
        return 0
    print(f"(a) harvest of {added} datasets ({3 * added} links on {args.hosts} hosts) with the harvest workers: "
          f"{harvest_time:.1f} s")
    print(f"(b) checks finished {after:.1f} s after the harvest; evidence (datasets, SHACL, links) = {counts}")
    print(f"ratio (b)/(a) = {after / harvest_time:.2f}   target <= 0.5")
    print(f"datasets checked per second over (a)+(b) = {counts[1] / (harvest_time + after):.1f}   target >= 20")
    return 0


if __name__ == "__main__":
    sys.exit(main())
