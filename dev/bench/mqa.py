"""MQA benchmark (``make bench``, issue #25): data.europa.eu's Metadata Quality Assessment of a commune of
1,000 datasets computed afresh vs ONE ``package_search`` of them, measured in the same run.

    python dev/bench/mqa.py --ckan-ini test.ini [--datasets 1000] [--repeat 7]

The commune's datasets are created through package_create (1 to 3 CSV or PDF resources each, half with a
download URL, a tenth private), the quality hooks off (the saves are not what is measured). Their stored
evidence is then written as the background checks would: the MQA facts read in each dataset's own DCAT
graph (quality/mqa_facts.py on shacl.dataset_graph, as the SHACL job does; conforming, without running
pyshacl, which the MQA does not read) and one answered link check per resource.

Measured in turns, each in its own request (fresh ``flask.g``, the session removed after it), best of
``--repeat`` after a warm-up of both:
(a) ``communes_mqa`` scope organization (as a sysadmin: every dataset): the visible ids, the stored facts,
    SHACL outcomes and link checks read, the 23 indicators aggregated;
(b) ``package_search`` of the same datasets (``owner_org``, private included, ``rows`` = their number,
    CKAN's maximum being 1,000). Target: (a) / (b) <= 3.

WIPES the database it is pointed at: refused unless its name ends in ``_test`` (or ``--allow-wipe``).
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from portal import argument_parser, open_app, setup_portal, wipe  # noqa: E402
from quality import quality_hooks  # noqa: E402

EU = "http://publications.europa.eu/resource/authority"
NOTES = ("Inventaire des arbres d'alignement de la commune : essence, hauteur, diamètre du tronc, date de "
         "plantation et adresse, tenu à jour par le service des espaces verts.")


def dataset(org_id: str, number: int) -> dict[str, Any]:
    resources = []
    for index in range(1 + number % 3):
        url = f"https://data.ville-bron.fr/jeu-{number}/fichier-{index}.{'pdf' if index == 2 else 'csv'}"
        file_type = "PDF" if index == 2 else "CSV"
        resource = {"url": url, "name": f"Fichier {index}", "format": f"{EU}/file-type/{file_type}"}
        if number % 2:
            resource.update(download_url=url, access_url=url)
        resources.append(resource)
    return {
        "name": f"mqa-{number:05d}", "title": f"Jeu {number}", "notes": NOTES, "owner_org": org_id,
        "tag_string": "arbres", "theme": [f"{EU}/data-theme/ENVI"], "license_id": "etalab-2.0",
        "frequency": f"{EU}/frequency/ANNUAL", "private": number % 10 == 0, "resources": resources,
        **({"temporal_coverage": [{"start": "2020-01-01"}]} if number % 4 else {}),
    }


def store_evidence(package_ids: list[str]) -> None:
    """What the background checks store for each dataset: its MQA facts and SHACL outcome, its link checks."""
    import ckan.plugins.toolkit as tk
    from ckan import model

    from ckanext.communes.quality import mqa_facts, shacl
    from ckanext.communes.quality.models import LinkCheck, ShaclCheck

    now = dt.datetime.utcnow()
    for package_id in package_ids:
        pkg = tk.get_action("package_show")({"ignore_auth": True}, {"id": package_id})
        facts = mqa_facts.facts_from_graph(shacl.dataset_graph(pkg), pkg)
        model.Session.merge(ShaclCheck(package_id=package_id, conforms=True, violations=0, messages=[],
                                       mqa_facts=facts, checked_at=now))
        for resource in pkg["resources"]:
            model.Session.merge(LinkCheck(resource_id=resource["id"], package_id=package_id, url=resource["url"],
                                          status=200, checked_at=now, consecutive_failures=0))
    model.Session.commit()


def in_own_request(flask_app: Any, action: str, user: str, data_dict: dict[str, Any]) -> tuple[Any, float]:
    import ckan.plugins.toolkit as tk
    from ckan import model

    with flask_app.app_context(), flask_app.test_request_context():
        start = time.perf_counter()
        result = tk.get_action(action)({"user": user}, data_dict)
        elapsed = time.perf_counter() - start
    model.Session.remove()
    return result, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=1000, help="datasets of the commune (at most 1,000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed turns of each")
    args = parser.parse_args(argv)
    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import search

    count = min(args.datasets, 1000)
    print(f"WARNING: wiping the database and Solr index of {args.ckan_ini}")
    with flask_app.test_request_context():
        tk.config["ckan.search.solr_commit"] = False
        wipe()
        user, bron, _mions = setup_portal()
        started = time.perf_counter()
        with quality_hooks(False):
            ids = [tk.get_action("package_create")({"user": user}, dataset(bron["id"], number))["id"]
                   for number in range(count)]
        search.commit()
        store_evidence(ids)
        print(f"setup: {count} datasets created and their evidence stored in {time.perf_counter() - started:.0f} s")

    mqa_call = ("communes_mqa", {"scope": "organization", "id": bron["id"]})
    search_call = ("package_search", {"fq": f"owner_org:{bron['id']}", "rows": count, "include_private": True})
    result, _ = in_own_request(flask_app, mqa_call[0], user, mqa_call[1])
    found, _ = in_own_request(flask_app, search_call[0], user, search_call[1])
    assert result["datasets"] == count and found["count"] == count, (result["datasets"], found["count"])
    times: dict[str, list[float]] = {"mqa": [], "search": []}
    for turn in range(args.repeat):
        for name in (("mqa", "search") if turn % 2 == 0 else ("search", "mqa")):
            action, data = mqa_call if name == "mqa" else search_call
            times[name].append(in_own_request(flask_app, action, user, data)[1])
    best = {name: min(values) for name, values in times.items()}
    ratio = best["mqa"] / best["search"]
    print(f"MQA of a commune of {count} datasets ({result['distributions']} distributions), computed afresh: "
          f"{best['mqa'] * 1000:.0f} ms (best of {args.repeat}); one package_search of them: "
          f"{best['search'] * 1000:.0f} ms; ratio {ratio:.2f} (target <= 3) -> "
          f"{result['points']:.1f} / 405 {result['rating_label']}")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
