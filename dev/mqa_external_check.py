"""The portal's MQA checked against an implementation of data.europa.eu's method that is not ours
(issue #25): YourOpenDAta/mqa-scoring (University of Cantabria, MIT licence, Python/rdflib), run on the
RDF/XML the portal serves (``/dataset/{name}.rdf`` for each dataset, ``/catalog.rdf``), offline.

    python dev/mqa_external_check.py --ckan-ini test.ini --tool DIR --tool-python PY [--nal DIR]

DIR: a checkout of https://github.com/YourOpenDAta/mqa-scoring (checked with commit 04076cd). PY: a Python
with the tool's pinned requirements (``python3 -m venv V && V/bin/pip install rdflib==5.0.0
requests==2.26.0``; the tool reads prefixes with rdflib 5's bindings). NAL: the EU lists' RDF files
(default ``../shared/reference/eu-nal``) that answer the tool's look-ups of EU URIs.

A small portal is built (the test database is WIPED: refused unless its name ends in _test, or
--allow-wipe): five datasets of two communes, chosen to touch every indicator (complete, several
distributions, PDF only, a web page, no contact point), SHACL-checked for real, their links' stored results
written (one broken). The tool's network look-ups get the portal's stored answers (dev/mqa_external/
run_tool.py says how). For each dataset and for the catalogue, the points of each indicator, ours and the
tool's, side by side, with the reason where the tool departs from the published method (DEPARTURES).
Exit status 0 when every difference is one of the explained departures.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import subprocess
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dev" / "bench"))
from portal import argument_parser, open_app, setup_portal, wipe  # noqa: E402

EU = "http://publications.europa.eu/resource/authority"
NOTES = ("Inventaire des arbres d'alignement de la commune : essence, hauteur, diamètre du tronc, date de "
         "plantation et adresse, tenu à jour par le service des espaces verts.")
BROKEN = {"https://data.ville-bron.fr/budget/annexe.pdf"}

# Where the tool departs from the published method (https://data.europa.eu/mqa/methodology).
ALL_OR_NOTHING = ("the tool scores the whole file at once: a presence indicator earns its full weight when the "
                  "property appears once anywhere in the file, a checked one only when every value in the file "
                  "passes; the method gives weight x the share of the {level}s meeting it")
ANY_NODE = ("the tool counts the property on any node of the file (the dataset's, the catalogue's, a "
            "catalogue record's); the method on the distributions only")
DEPARTURES = {
    "non_proprietary": "the tool asks every dct:format of the file to be in the list and ignores "
                       "dcat:mediaType; the method: at least one of format and media type, per distribution",
    "machine_readable": "the tool asks every dct:format of the file to be in the list and ignores "
                        "dcat:mediaType; the method: at least one of format and media type, per distribution",
    "format_media_type_vocabulary": "the tool asks that every format of the file be in the EU list AND every "
                                    "media type's IANA page answer, over the whole file",
    "download_url_ok": "the tool gives these 30 points only when the file has a download URL and every one "
                       "answers; the method counts the distributions whose download URL answers",
    "dcat_ap_compliance": "the tool asks data.europa.eu's validator about the whole file (here: our stored "
                          "result, all datasets conforming for the catalogue); the method counts datasets",
}
ANY_NODE_PROPERTIES = ("issued", "modified", "rights", "byte_size", "licence", "licence_vocabulary", "download_url")


# The tool's report lines -> our indicators: (section printed by the tool, words of its "OK" line).
TOOL_LINES = (
    ("SHACL validation", "EDP validator", "dcat_ap_compliance"),
    ("dcat:keyword", "is set", "keyword"), ("dcat:theme", "is set", "theme"),
    ("dct:spatial", "is set", "spatial"), ("dct:temporal", "is set", "temporal"),
    ("dcat:accessURL", "Weight assigned 50", "access_url_ok"),
    ("dcat:downloadURL", "is set", "download_url"), ("dcat:downloadURL", "Weight assigned 30", "download_url_ok"),
    ("dct:format", "is set", "format"), ("dct:format", "machine-readable", "machine_readable"),
    ("dct:format", "non-propietary", "non_proprietary"),
    ("dcat:mediaType", "is set", "media_type"),
    ("dct:format & dcat:mediaType", "controlled vocabulary", "format_media_type_vocabulary"),
    ("dct:license", "is set", "licence"), ("dct:license", "correct license", "licence_vocabulary"),
    ("dct:accessRights", "is set", "access_rights"),
    ("dct:accessRights", "controlled vocabulary", "access_rights_vocabulary"),
    ("dcat:contactPoint", "is set", "contact_point"), ("dct:publisher", "is set", "publisher"),
    ("dct:rights", "is set", "rights"), ("dcat:byteSize", "is set", "byte_size"),
    ("dct:issued", "is set", "issued"), ("dct:modified", "is set", "modified"),
)


def datasets(bron: str, mions: str) -> list[dict[str, Any]]:
    def resource(url: str, fmt: str, **extra: Any) -> dict[str, Any]:
        return {"url": url, "name": url.rsplit("/", 1)[1], "format": f"{EU}/file-type/{fmt}", **extra}

    base = {"notes": NOTES, "license_id": "etalab-2.0", "tag_string": "arbres", "theme": [f"{EU}/data-theme/ENVI"]}
    return [
        {**base, "name": "arbres", "title": "Arbres", "owner_org": bron,
         "temporal_coverage": [{"start": "2020-01-01"}],
         "resources": [resource("https://data.ville-bron.fr/arbres.csv", "CSV", size=2048,
                                rights="Mention de la source", download_url="https://data.ville-bron.fr/arbres.csv",
                                access_url="https://data.ville-bron.fr/arbres.csv")]},
        {**base, "name": "budget", "title": "Budget", "owner_org": bron,
         "resources": [resource("https://data.ville-bron.fr/budget/budget.csv", "CSV"),
                       resource("https://data.ville-bron.fr/budget/annexe.pdf", "PDF")]},
        {**base, "name": "plan", "title": "Plan", "owner_org": bron, "tag_string": "",
         "resources": [resource("https://data.ville-bron.fr/plan.pdf", "PDF")]},
        {**base, "name": "carte", "title": "Carte", "owner_org": mions, "tag_string": "",
         "resources": [resource("https://www.mions.fr/carte", "HTML")]},
        {**base, "name": "vide", "title": "Vide", "owner_org": mions, "resources": []},
    ]


def store_links(pkg: dict[str, Any]) -> None:
    from ckan import model

    from ckanext.communes.quality.models import LinkCheck

    now = dt.datetime.utcnow()
    for res in pkg["resources"]:
        broken = res["url"] in BROKEN
        model.Session.merge(LinkCheck(resource_id=res["id"], package_id=pkg["id"], url=res["url"],
                                      status=404 if broken else 200, error="http_status" if broken else None,
                                      checked_at=now, consecutive_failures=int(broken)))


def tool_points(report: str) -> dict[str, float]:
    """Our indicators' points as the tool's printed report gives them."""
    points: dict[str, float] = {}
    section = ""
    for line in report.splitlines():
        if line.startswith("* "):
            section = line[2:].strip()
            continue
        assigned = re.search(r"Weight assigned (\d+)", line)
        if not assigned or "Result: OK" not in line:
            continue
        for name_section, words, indicator in TOOL_LINES:
            if name_section == section and words in line:
                points[indicator] = points.get(indicator, 0) + int(assigned.group(1))
                break
    return points


def run_tool(args: Any, rdf: bytes, answers: dict[str, Any], work: pathlib.Path, name: str) -> dict[str, float]:
    (work / f"{name}.rdf").write_bytes(rdf)
    (work / f"{name}.json").write_text(json.dumps(answers))
    done = subprocess.run(
        [args.tool_python, str(ROOT / "dev" / "mqa_external" / "run_tool.py"), "--tool", args.tool,
         "--answers", str(work / f"{name}.json"), "--file", str(work / f"{name}.rdf")],
        capture_output=True, text=True, timeout=300)
    (work / f"{name}.report.txt").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(f"  the tool failed on {name}: {done.stderr.strip().splitlines()[-1] if done.stderr else '?'}")
        return {}
    return tool_points(done.stdout)


def _why(item: dict[str, Any], mine: float, other: float) -> str | None:
    """The departure of the tool from the method that explains a difference, None when none does."""
    weight = float(item["weight"])
    if 0 < item["share"] < 1 and other in (0, weight):
        return ALL_OR_NOTHING.format(level=item["level"]) + f" (here {item['met']} of {item['total']})"
    if item["level"] == "distribution" and other == weight and mine < weight and item["name"] in ANY_NODE_PROPERTIES:
        return ANY_NODE  # e.g. a dataset without distribution: our profile states its licence and dates on it
    return DEPARTURES.get(item["name"])


def compare(label: str, ours: dict[str, Any], theirs: dict[str, float]) -> int:
    """Print both per indicator; return the number of differences no departure explains."""
    unexplained = 0
    print(f"\n== {label}: ours {ours['points']:.1f} / 405 ({ours['rating_label']}), the tool's "
          f"{sum(theirs.values()):.0f} / 405")
    for dimension in ours["dimensions"]:
        for item in dimension["indicators"]:
            mine, other = round(item["points"], 2), float(theirs.get(item["name"], 0))
            why = None if abs(mine - other) < 0.01 else _why(item, mine, other)
            verdict = "equal" if abs(mine - other) < 0.01 else (f"departs: {why}" if why else "DIFFERS")
            unexplained += verdict == "DIFFERS"
            print(f"  {item['name']:<30} ours {mine:>6.2f}  tool {other:>4.0f}  {verdict}")
    return unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--tool", required=True, help="checkout of YourOpenDAta/mqa-scoring")
    parser.add_argument("--tool-python", required=True, help="a Python with rdflib 5.0.0 and requests 2.26.0")
    parser.add_argument("--nal", default=str(ROOT.parent / "shared" / "reference" / "eu-nal"))
    args = parser.parse_args(argv)
    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan import model
    from ckan.lib import search

    from ckanext.communes.quality import mqa, mqa_facts, shacl

    nal = pathlib.Path(args.nal)
    vocabularies = {f"{EU}/file-type/": str(nal / "file-type.rdf"), f"{EU}/licence/": str(nal / "licences-skos.rdf"),
                    f"{EU}/access-right/": str(nal / "access-right-skos.rdf")}
    iana = sorted(mqa_facts.vocabulary("iana-media-types"))
    with flask_app.test_request_context():
        wipe()
        user, bron, mions = setup_portal()
        ids = {}
        for data in datasets(bron["id"], mions["id"]):
            ids[data["name"]] = tk.get_action("package_create")({"user": user}, data)["id"]
        search.commit()
        for package_id in ids.values():
            pkg = tk.get_action("package_show")({"ignore_auth": True}, {"id": package_id})
            shacl.store_result(package_id, shacl.validate_dataset(pkg))
            store_links(pkg)
        model.Session.commit()
        stored = {name: mqa.read_evidence([package_id])[0] for name, package_id in ids.items()}

    client = flask_app.test_client()
    unexplained = 0
    all_urls: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="mqa-external-") as folder:
        work = pathlib.Path(folder)
        for name, package_id in ids.items():
            evidence = stored[name]
            urls = {url: (200 if ok else 404) for url, ok in evidence.links.values()}
            all_urls.update(urls)
            answers = {"urls": urls, "iana": iana, "vocabularies": vocabularies,
                       "shacl_conforms": evidence.conforms is True}
            rdf = client.get(f"/dataset/{name}.rdf").data
            with flask_app.test_request_context():
                ours = mqa.mqa_of([package_id])
            unexplained += compare(f"dataset {name}", ours, run_tool(args, rdf, answers, work, name))
        answers = {"urls": all_urls, "iana": iana, "vocabularies": vocabularies,
                   "shacl_conforms": all(e.conforms is True for e in stored.values())}
        rdf = client.get("/catalog.rdf").data
        with flask_app.test_request_context():
            ours = mqa.mqa_of(ids.values())
        unexplained += compare("catalogue /catalog.rdf", ours, run_tool(args, rdf, answers, work, "catalogue"))
    print(f"\n{unexplained} difference(s) not explained by a departure of the tool from the method")
    return 0 if unexplained == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
