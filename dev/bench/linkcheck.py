"""Link-checking benchmark (``make bench``): ratios measured in one run, on the same machine and URLs.

    python dev/bench/linkcheck.py --ckan-ini test.ini [--urls 1000] [--hosts 20] [--slow-seconds 1]

``--urls`` URLs are served by real HTTP servers on ``--hosts`` loopback addresses (127.0.0.1, 127.0.0.2...:
Linux routes all of 127/8 to the loopback, so each is a distinct host for the per-host rate limit). 5 % of
the URLs answer after ``--slow-seconds``, 5 % fail (404 or 500), the rest answer 200.

(a) baseline: a plain sequential ``requests.head`` loop;
(b) our checker (``link_probe.check_urls``): HEAD through the guarded client, concurrent within the
    per-host limit, with the portal's settings (per_host_concurrency, per_host_interval, threads);
(b2) the same with a looser per_host_interval (0.1 s), to show what the concurrency gives;
(c) the same, ``--one-host-urls`` URLs on ONE host: the per-host limit is what bounds it (by design);
(d) page views while a link-check job runs in a worker process: the median time of a resource page GET
    while the job runs vs idle. The page reads one stored row; it never waits for a check.

Both (a) and (b) must classify every URL alike (ok / broken). Targets: (a)/(b) > 1 on several hosts (its floor is
URLs × per_host_interval / hosts); (d) ratio ~1 (page views wait 0 s for checks). WIPES the database it is pointed
at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import pathlib
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, open_app, setup_portal, wipe  # noqa: E402


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    slow_seconds = 1.0

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        kind = self.path.rsplit("/", 1)[-1].split("-", 1)[0]
        if kind == "slow":
            time.sleep(self.slow_seconds)
        status = {"e404": 404, "e500": 500}.get(kind, 200)
        body = b"a;b\n1;2\n" if status == 200 else b"error"
        self.send_response(status)
        self.send_header("Content-Type", "text/csv" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def start_servers(hosts: int, slow_seconds: float) -> list[tuple[ThreadingHTTPServer, str]]:
    _Handler.slow_seconds = slow_seconds
    servers = []
    for index in range(hosts):
        address = f"127.0.0.{index + 1}"
        server = ThreadingHTTPServer((address, 0), _Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, f"http://{address}:{server.server_address[1]}"))
    return servers


def url_mix(bases: list[str], count: int) -> list[str]:
    """5 % slow, 5 % failing (404 and 500 alternately), spread over the hosts."""
    urls = []
    for index in range(count):
        base = bases[index % len(bases)]
        # Not tied to the host: each host gets its share of slow and failing URLs.
        slot = index % 20 if len(bases) == 1 else (index // len(bases) + index) % 20
        kind = "slow" if slot == 0 else ("e404" if index % 2 else "e500") if slot == 1 else "ok"
        urls.append(f"{base}/files/{kind}-{index}.csv")
    return urls


def sequential_head(urls: list[str]) -> dict[str, bool]:
    import requests

    found = {}
    with requests.Session() as session:
        session.trust_env = False
        for url in urls:
            try:
                found[url] = session.head(url, timeout=10, allow_redirects=True).ok
            except requests.RequestException:
                found[url] = False
    return found


def timed(label: str, run: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.2f} s", flush=True)
    return elapsed, result


def page_view_times(client: Any, path: str, seconds: float, while_running: Any = None) -> list[float]:
    """GETs of the page for ``seconds``, or while ``while_running`` (a process) is alive."""
    times = []
    end = time.perf_counter() + seconds
    while (while_running.poll() is None) if while_running is not None else time.perf_counter() < end:
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--slow-seconds", type=float, default=1.0)
    parser.add_argument("--one-host-urls", type=int, default=40)
    parser.add_argument("--page-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan import model
    from ckan.lib import jobs
    from ckan.lib.redis import connect_to_redis

    from ckanext.communes.quality import evidence, host_limiter, link_probe, linkcheck, options

    servers = start_servers(args.hosts, args.slow_seconds)
    bases = [base for _server, base in servers]
    urls = url_mix(bases, args.urls)
    results: list[tuple[str, str]] = []
    with flask_app.test_request_context():
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        redis = connect_to_redis()
        for key in redis.scan_iter(host_limiter.REDIS_KEY.format(host="*")):
            redis.delete(key)
        settings = {name: options.linkcheck_option(name) for name in ("per_host_concurrency", "per_host_interval",
                                                              "threads", "timeout")}
        print(f"{args.urls} URLs on {args.hosts} host(s), 5 % slow ({args.slow_seconds:g} s), 5 % failing; "
              f"checker settings {settings}", flush=True)

        baseline, expected = timed("(a) sequential requests.head", lambda: sequential_head(urls))
        ours, outcomes = timed("(b) our checker, portal settings", lambda: link_probe.check_urls(urls))
        mismatches = [u for u in urls if outcomes[u].ok != expected[u]]
        assert not mismatches, f"{len(mismatches)} URL(s) classified differently, e.g. {mismatches[:3]}"
        results.append(("(a)/(b) throughput of our checker vs sequential HEAD", f"{baseline / ours:.2f}×"))
        looser = host_limiter.HostLimiter(interval=0.1)
        for key in redis.scan_iter(host_limiter.REDIS_KEY.format(host="*")):
            redis.delete(key)
        loose, _ = timed("(b2) our checker, per_host_interval 0.1 s",
                         lambda: link_probe.check_urls(urls, limiter=looser))
        results.append(("(a)/(b2) the same with per_host_interval 0.1 s", f"{baseline / loose:.2f}×"))
        results.append(("  (a) URLs/s", f"{len(urls) / baseline:.1f}"))
        results.append(("  (b) URLs/s", f"{len(urls) / ours:.1f}"))

        one_host = url_mix(bases[:1], args.one_host_urls)
        for key in redis.scan_iter(host_limiter.REDIS_KEY.format(host="*")):
            redis.delete(key)
        single, _ = timed("(c) our checker, all URLs on one host", lambda: link_probe.check_urls(one_host))
        floor = (len(one_host) - 1) * float(settings["per_host_interval"])
        results.append(("(c) one host: seconds (floor = (URLs - 1) × per_host_interval)",
                        f"{single:.1f} s (floor {floor:.1f} s)"))

        # (d) a page view while a job checks a dataset's links in a worker process.
        wipe()
        user, bron, _mions = setup_portal()
        job_urls = [f"{bases[i % len(bases)]}/files/slow-job{i}.csv" for i in range(160)]
        dataset = tk.get_action("package_create")({"user": user}, {
            "name": "bench-liens", "title": "Banc d'essai des liens", "notes": "Jeu du banc d'essai.",
            "owner_org": bron["id"], "theme": ["ENVI"], "license_id": "etalab-2.0",
            "resources": [{"url": url, "name": f"R{i}"} for i, url in enumerate(job_urls)],
        })
        resource_path = f"/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}"
        client = flask_app.test_client()
        client.get(resource_path)  # warm the templates
        idle = page_view_times(client, resource_path, args.page_seconds)
        jobs.get_queue().empty()
        linkcheck.enqueue_dataset(dataset["id"])
        model.Session.commit()
        # The job in its own process, as in production: `ckan jobs worker` (in burst mode: it stops when done).
        ckan = str(pathlib.Path(sys.executable).with_name("ckan"))
        job_started = time.perf_counter()
        worker = subprocess.Popen([ckan, "-c", args.ckan_ini, "jobs", "worker", "--burst"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)  # the worker has started and picked the job up
        busy = page_view_times(client, resource_path, args.page_seconds, while_running=worker)
        worker.wait(timeout=600)
        job_seconds = time.perf_counter() - job_started
        model.Session.expire_all()
        checked = sum(1 for r in evidence.link_results_for(dataset["id"]).values() if r.ok is not None)
        ratio = statistics.median(busy) / statistics.median(idle)
        results.append(("(d) resource page GET, median while a check job runs / idle", f"{ratio:.2f}×"))
        results.append(("  idle / busy medians (ms), page views timed",
                        f"{statistics.median(idle) * 1000:.1f} / {statistics.median(busy) * 1000:.1f}, "
                        f"{len(idle)} / {len(busy)}"))
        results.append(("  the job (worker process, start to exit): links checked, seconds",
                        f"{checked}/{len(job_urls)}, {job_seconds:.1f} s"))
        results.append(("  time any page view waited for a link check", "0 s (the page reads the stored row)"))

    for server, _base in servers:
        server.shutdown()
    print()
    for label, value in results:
        print(f"{label}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
