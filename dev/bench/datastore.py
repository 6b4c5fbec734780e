"""DataStore benchmark (``make bench``): ratios measured in one run, on the same machine and file.

    python dev/bench/datastore.py --ckan-ini test.ini [--rows 100000] [--searches 200]

A CSV of ``--rows`` rows (8 columns) is served by a real HTTP server on 127.0.0.1.

(a) baseline: PostgreSQL's own ``COPY ... FROM STDIN`` of the file into a table of text columns, in the
    DataStore's database (what a loader cannot beat);
(b) ckanext-xloader's load of the same file as the portal runs it (``xloader_data_into_datastore_``: the
    download through the guarded client, encoding detection, its COPY, the full-text and column indexes);
(c) baseline: the direct SQL query ``SELECT ... WHERE type = %s ORDER BY _id LIMIT 100`` on the DataStore's
    read-only connection;
(d) ``datastore_search`` with ``filters={"type": ...}``, ``limit=100`` through the action API (an anonymous
    caller: authorisation, parameter validation, the total count, the JSON-ready records).

Reported: (b)/(a) and (d)/(c), medians for the searches. WIPES the database it is pointed at: refused unless its
name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import csv
import logging
import pathlib
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, fresh_portal, open_app  # noqa: E402

TYPES = ("stade", "piscine", "gymnase", "dojo", "tennis", "skatepark", "boulodrome", "city-stade")
HEADER = ["nom", "type", "commune", "adresse", "places", "latitude", "longitude", "ouverture"]


def write_csv(path: pathlib.Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            writer.writerow([f"Équipement {index}", TYPES[index % len(TYPES)], f"Commune {index % 59}",
                             f"{index % 300} rue de la République", index % 5000, f"45.{index % 100000:05d}",
                             f"4.{index % 100000:05d}", "2019-01-01"])


def serve(folder: pathlib.Path) -> tuple[ThreadingHTTPServer, str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def copy_baseline(write_url: str, path: pathlib.Path) -> float:
    import psycopg2
    from sqlalchemy.engine import make_url

    libpq = make_url(write_url).set(drivername="postgresql").render_as_string(hide_password=False)
    columns = ", ".join(f'"{name}" text' for name in HEADER)
    with psycopg2.connect(libpq) as connection, connection.cursor() as cursor:
        cursor.execute('DROP TABLE IF EXISTS "bench_copy_baseline"')
        cursor.execute(f'CREATE TABLE "bench_copy_baseline" ({columns})')
        start = time.perf_counter()
        with path.open("rb") as handle:
            cursor.copy_expert('COPY "bench_copy_baseline" FROM STDIN WITH (FORMAT csv, HEADER true)', handle)
        connection.commit()
        elapsed = time.perf_counter() - start
        cursor.execute('SELECT count(*) FROM "bench_copy_baseline"')
        assert cursor.fetchone()[0] > 0
        cursor.execute('DROP TABLE "bench_copy_baseline"')
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args(argv)

    flask_app = open_app(args, extra_plugins="datastore xloader")
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    import psycopg2
    from ckan import model
    from ckanext.xloader import jobs
    from sqlalchemy.engine import make_url

    from ckanext.communes.dataapi import loader_guard

    logging.getLogger("ckanext.xloader").setLevel(logging.WARNING)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-datastore-"))
    path = folder / "equipements.csv"
    write_csv(path, args.rows)
    server, base = serve(folder)
    results: list[tuple[str, str]] = []
    try:
        with flask_app.test_request_context():
            tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
            tk.config["ckanext.communes.datastore.per_host_interval"] = "0"
            # No automatic submission when the dataset is saved: the load is timed below, in this process.
            tk.config["ckanext.xloader.formats"] = ""
            assert loader_guard.installed()
            user, bron = fresh_portal()
            token = tk.get_action("api_token_create")({"user": user}, {"user": user, "name": "bench"})["token"]
            dataset = tk.get_action("package_create")({"user": user}, {
                "name": "bench-datastore", "title": "Équipements", "notes": "Banc d'essai.", "owner_org": bron["id"],
                "theme": ["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
                "license_id": "etalab-2.0", "resources": [{"url": f"{base}/equipements.csv", "format": "CSV"}]})
            resource_id = dataset["resources"][0]["id"]
            resource = model.Resource.get(resource_id)
            resource.format = "CSV"  # as xloader sees it once formats are short codes (issue #23 item 1)
            model.Session.commit()
            size = path.stat().st_size
            print(f"{args.rows} rows, {size / 1e6:.1f} MB CSV on 127.0.0.1", flush=True)

            baseline = copy_baseline(tk.config["ckan.datastore.write_url"], path)
            print(f"(a) PostgreSQL COPY: {baseline:.2f} s", flush=True)
            job_input = {"api_key": token, "metadata": {"resource_id": resource_id, "ignore_hash": True,
                                                         "ckan_url": tk.config["ckan.site_url"]}}
            start = time.perf_counter()
            jobs.xloader_data_into_datastore_(job_input, {"metadata": job_input["metadata"]},
                                              logging.getLogger("bench.xloader"))
            loaded = time.perf_counter() - start
            total = tk.get_action("datastore_search")({}, {"resource_id": resource_id, "limit": 0})["total"]
            assert total == args.rows, total
            print(f"(b) xloader load: {loaded:.2f} s", flush=True)
            results.append(("(b)/(a) xloader load vs PostgreSQL COPY of the same file", f"{loaded / baseline:.2f}×"))

            read = make_url(tk.config["ckan.datastore.read_url"]).set(drivername="postgresql")
            direct_times, api_times = [], []
            with psycopg2.connect(read.render_as_string(hide_password=False)) as connection, \
                    connection.cursor() as cursor:
                for index in range(args.searches):
                    wanted = TYPES[index % len(TYPES)]
                    start = time.perf_counter()
                    cursor.execute(f'SELECT * FROM "{resource_id}" WHERE "type" = %s ORDER BY _id LIMIT 100',
                                   (wanted,))
                    direct = cursor.fetchall()
                    direct_times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    found = tk.get_action("datastore_search")(
                        {"user": ""}, {"resource_id": resource_id, "filters": {"type": wanted}, "limit": 100,
                                       "sort": "_id"})
                    api_times.append(time.perf_counter() - start)
                    assert [r["_id"] for r in found["records"]] == [row[0] for row in direct]
            direct_median, api_median = statistics.median(direct_times), statistics.median(api_times)
            print(f"(c) direct SQL: {direct_median * 1000:.1f} ms; (d) datastore_search: "
                  f"{api_median * 1000:.1f} ms (medians of {args.searches})", flush=True)
            results.append(("(d)/(c) datastore_search with a filter vs the direct SQL query",
                            f"{api_median / direct_median:.2f}×"))
            tk.get_action("datastore_delete")({"user": user}, {"resource_id": resource_id, "force": True})
    finally:
        server.shutdown()
        path.unlink(missing_ok=True)
        folder.rmdir()
    for label, value in results:
        print(f"{label}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
