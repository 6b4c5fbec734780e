"""What our DCAT output gives data.europa.eu's MQA (issue #25 item 3): the share of datasets and distributions
of our own ``/catalog.ttl`` that meet each MQA indicator the DCAT profile can raise. Not a test: it prints a
table; run it before and after a change of the profile, on the same catalogues.

    python dev/bench/dcat_mqa.py --ckan-ini test.ini

Two catalogues, each from an empty database and index:

- **seeded**: ``make run``'s seeding (the Métropole and its 58 communes, ``communes seed``), which creates no
  dataset, then datasets as commune editors make them through the API (links to files, an upload, a WMS, an
  HTML page, with and without size, format or access rights: ``EDITOR_DATASETS``);
- **harvested**: the test fixtures of our DCAT and CKAN source types (tests/harvesters/fixtures/dcat,
  fixtures/ckan) mapped by our harvesters and saved with the harvest context.

The files behind the links are served by a real HTTP server on 127.0.0.1 (each path answers 200 with a body of
a size the path gives), and the link checker (quality/linkcheck.py) checks every dataset once, as the portal's
background checks would: the size it measures is a known value.

Indicators (weights of data.europa.eu's method; D: per dataset, R: per distribution): access rights (D, 10),
access rights from the EU vocabulary (D, 5), download URL (R, 20), media type (R, 10), format or media type
from a vocabulary (R, 10: EU file type or a registered IANA media type), rights (R, 5), byte size (R, 5),
issued and modified (R, 5 each; also given per dataset). WIPES the database it is pointed at: refused unless
its name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, make_sysadmin, mapped_datasets, open_app, wipe  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "ckanext" / "communes" / "tests" / "harvesters" / "fixtures"
EU = "http://publications.europa.eu/resource/authority"
IANA = "iana.org/assignments/media-types/"  # either scheme
ACCESS_RIGHTS = f"{EU}/access-right/"
FILE_TYPES = f"{EU}/file-type/"
FILE_BODY_SIZE = 4096
CONTENT_TYPES = {".csv": "text/csv", ".geojson": "application/geo+json", ".json": "application/json",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 ".pdf": "application/pdf", ".zip": "application/zip", ".html": "text/html"}


def editor_datasets(base: str, org_ids: list[str]) -> list[dict[str, Any]]:
    """Datasets as commune editors create them through the API (the form fills access rights; the API does not)."""
    theme = f"{EU}/data-theme/GOVE"
    common = {"notes": "Un jeu de données publié par la commune.", "theme": [theme], "license_id": "etalab-2.0"}
    shapes = [
        [{"url": f"{base}/files/budget.csv", "name": "Budget (CSV)", "format": "CSV"}],
        [{"url": f"{base}/files/arbres.geojson", "name": "Arbres", "format": "GeoJSON", "size": 52000},
         {"url": f"{base}/files/arbres.csv", "name": "Arbres (CSV)"}],
        [{"url": f"{base}/files/equipements.xlsx", "name": "Équipements"}],
        [{"url": f"{base}/geoserver/wms?SERVICE=WMS&REQUEST=GetCapabilities", "name": "Carte", "format": "WMS"}],
        [{"url": f"{base}/pages/deliberations.html", "name": "Délibérations (page)", "format": "HTML"}],
        [{"url": f"{base}/files/rapport.pdf", "name": "Rapport", "format": "PDF"},
         {"url": f"{base}/files/annexes.zip", "name": "Annexes", "format": "ZIP"}],
        [{"url": "budget-2024.csv", "url_type": "upload", "name": "Budget 2024 (fichier déposé)", "format": "CSV",
          "size": 1830}],
        [{"url": f"{base}/api/records?limit=100", "name": "API", "format": "JSON"}],
    ]
    datasets = []
    for index, resources in enumerate(shapes * 2):
        dataset = {**common, "name": f"editeur-{index:02d}", "title": f"Jeu de données {index}",
                   "owner_org": org_ids[index % len(org_ids)], "resources": copy.deepcopy(resources)}
        if index % 2 == 0:  # the form's default; an API client may leave it empty
            dataset["access_rights"] = f"{ACCESS_RIGHTS}PUBLIC"
        datasets.append(dataset)
    return datasets


class FilesServer:
    """DCAT fixture pages, a CKAN package_search of the CKAN fixture, and files: any other path answers 200
    with FILE_BODY_SIZE bytes and the content type of its extension."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, with_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                content_type, body = server.routes.get(path) or (
                    CONTENT_TYPES.get(pathlib.PurePosixPath(path).suffix, "application/octet-stream"),
                    b"x" * FILE_BODY_SIZE)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
                self._answer(False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"

    def serve_fixtures(self) -> tuple[str, str]:
        for page in ("page1", "page2"):
            text = (FIXTURES / "dcat" / f"{page}.ttl").read_text(encoding="utf-8").replace("{base}", self.base)
            self.routes[f"/dcat/{page}.ttl"] = ("text/turtle", text.encode())
        ckan = json.loads((FIXTURES / "ckan" / "datasets.json").read_text(encoding="utf-8"))
        result = {"count": len(ckan), "results": ckan}
        self.routes["/api/3/action/package_search"] = (
            "application/json", json.dumps({"success": True, "result": result}).encode())
        return f"{self.base}/dcat/page1.ttl", f"{self.base}/"


def save(datasets: list[dict[str, Any]], user: str, harvest: bool) -> list[str]:
    import ckan.plugins.toolkit as tk

    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG

    ids = []
    for dataset in datasets:
        context = {"user": user, "ignore_auth": True, "return_id_only": True}
        if harvest:
            context[HARVEST_CONTEXT_FLAG] = True
        ids.append(tk.get_action("package_create")(context, dataset))
    return ids


def check_links(package_ids: list[str]) -> None:
    from ckanext.communes.quality import linkcheck

    for package_id in package_ids:
        linkcheck.check_dataset_now(package_id)


def catalogue_graph(client: Any) -> Any:
    import rdflib

    graph = rdflib.Graph()
    page = 1
    while True:
        response = client.get(f"/catalog.ttl?page={page}")
        if response.status_code != 200:
            break
        graph.parse(data=response.get_data(as_text=True), format="turtle")
        if f"page={page + 1}" not in response.get_data(as_text=True):
            break
        page += 1
    return graph


def registered_media_types() -> set[str]:
    """Media types registered at IANA, as far as the shipped mapping knows them (dcat/data/)."""
    path = ROOT / "ckanext" / "communes" / "dcat" / "data" / "iana-media-types.csv"
    if not path.exists():
        return set()
    import csv

    with path.open(encoding="utf-8") as handle:
        return {row["media_type"] for row in csv.DictReader(handle)}


def measure(graph: Any) -> dict[str, tuple[int, int]]:
    """indicator -> (met, out of)."""
    from rdflib import RDF, URIRef
    from rdflib.namespace import DCAT, DCTERMS

    registered = registered_media_types()
    datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
    distributions = [d for ds in datasets for d in graph.objects(ds, DCAT.distribution)]

    def share(nodes: list[Any], met: Callable[[Any], bool]) -> tuple[int, int]:
        return sum(1 for node in nodes if met(node)), len(nodes)

    def has(predicate: Any) -> Callable[[Any], bool]:
        return lambda node: (node, predicate, None) in graph

    def access_right_in_vocabulary(node: Any) -> bool:
        return any(str(value).startswith(ACCESS_RIGHTS) for value in graph.objects(node, DCTERMS.accessRights))

    def format_or_media_type_in_vocabulary(node: Any) -> bool:
        formats = [str(v) for v in graph.objects(node, DCTERMS["format"]) if isinstance(v, URIRef)]
        media = [str(v) for v in graph.objects(node, DCAT.mediaType)]
        return any(v.startswith(FILE_TYPES) for v in formats) or any(
            IANA in v and v.split(IANA, 1)[1] in registered for v in media)

    def media_type_registered(node: Any) -> bool:
        return any(IANA in str(v) and str(v).split(IANA, 1)[1] in registered
                   for v in graph.objects(node, DCAT.mediaType))

    def byte_size_integer(node: Any) -> bool:
        return any(re.fullmatch(r"\d+", str(v)) for v in graph.objects(node, DCAT.byteSize))

    return {
        "D access rights (10)": share(datasets, has(DCTERMS.accessRights)),
        "D access rights from vocabulary (5)": share(datasets, access_right_in_vocabulary),
        "D issued": share(datasets, has(DCTERMS.issued)),
        "D modified": share(datasets, has(DCTERMS.modified)),
        "R download URL (20)": share(distributions, has(DCAT.downloadURL)),
        "R media type (10)": share(distributions, has(DCAT.mediaType)),
        "R media type registered at IANA": share(distributions, media_type_registered),
        "R format/media type from vocabulary (10)": share(distributions, format_or_media_type_in_vocabulary),
        "R rights (5)": share(distributions, has(DCTERMS.rights)),
        "R byte size (5)": share(distributions, byte_size_integer),
        "R issued (5)": share(distributions, has(DCTERMS.issued)),
        "R modified (5)": share(distributions, has(DCTERMS.modified)),
    }


def build_catalogue(catalogue: str, server: FilesServer, dcat_url: str, ckan_url: str) -> tuple[str, list[str]]:
    """An empty portal seeded as ``make run`` seeds it, then the "seeded" or the "harvested" catalogue, its links
    checked: (the sysadmin's name, the dataset ids). Runs inside a request context."""
    import ckan.plugins.toolkit as tk

    from ckanext.communes.communes import seeding

    wipe()
    seeding.seed()
    user = make_sysadmin()
    orgs = [tk.get_action("organization_show")({"ignore_auth": True}, {"id": name})["id"]
            for name in ("bron", "mions", "vaulx-en-velin")]
    if catalogue == "seeded":
        ids = save(editor_datasets(server.base, orgs), user, harvest=False)
    else:
        mapped = (mapped_datasets("communes_dcat", dcat_url, orgs[0])
                  + mapped_datasets("communes_ckan", ckan_url, orgs[1]))
        for index, dataset in enumerate(mapped):  # the harvester names them at import
            dataset.setdefault("name", f"moissonne-{index:02d}")
        ids = save(mapped, user, harvest=True)
    check_links(ids)
    return user, ids


def open_files_server() -> tuple[FilesServer, str, str]:
    """The fixture catalogues and files served on 127.0.0.1, which the portal is then allowed to fetch; the
    server and the URLs of its DCAT and CKAN catalogues."""
    import ckan.plugins.toolkit as tk

    tk.config["ckanext.communes.fetch.allow_private_addresses"] = True  # the files server is on 127.0.0.1
    server = FilesServer()
    dcat_url, ckan_url = server.serve_fixtures()
    return server, dcat_url, ckan_url


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__).parse_args(argv)
    flask_app = open_app(args)
    if flask_app is None:
        return 2
    server, dcat_url, ckan_url = open_files_server()
    results: dict[str, dict[str, tuple[int, int]]] = {}
    for catalogue in ("seeded", "harvested"):
        with flask_app.test_request_context():
            build_catalogue(catalogue, server, dcat_url, ckan_url)
        with flask_app.test_client() as client:
            results[catalogue] = measure(catalogue_graph(client))
    width = max(len(name) for name in results["seeded"])
    print(f"{'indicator':<{width}}  {'seeded':>14}  {'harvested':>14}")
    for name in results["seeded"]:
        cells = []
        for catalogue in ("seeded", "harvested"):
            met, total = results[catalogue][name]
            cells.append(f"{met}/{total} {100 * met / total if total else 0:5.1f}%")
        print(f"{name:<{width}}  {cells[0]:>14}  {cells[1]:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
