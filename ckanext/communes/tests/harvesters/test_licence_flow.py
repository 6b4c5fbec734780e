"""Issue #22 part B: a harvested licence is a registry licence or the « licence non reconnue » entry, never
the source's raw text; the source's text is kept (harvest_unmapped, dataset page) and counted in the job
report; operators' aliases apply at the next harvest and to ``ckan communes licences renormalise``, which
migrates the raw ids earlier versions stored. Against the ODS fixture server on 127.0.0.1 and the real
PostgreSQL / Solr of the test stack."""

from __future__ import annotations

import collections
import json
import re
from typing import Any

import pytest
from ckan import model
from ckan.lib import search
from ckan.tests import factories, helpers
from click.testing import CliRunner

from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.licences.normalise import normalize_licence
from ckanext.communes.licences.registry import get_licence
from ckanext.communes.tests.dcat.conftest import minimal_fields
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_ods_harvest import (  # noqa: F401
    RemoteODS,
    fixture_datasets,
    make_source,
    portal,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")

UNRECOGNISED = "unrecognised"
# The three labels of the issue, as an Opendatasoft portal writes them (no licence URL to decide), and how
# many datasets carry each.
RAW_LABELS = {"Licence Ouverte (Etalab)": 2, "Public Domain": 1, "CC BY-NC": 3}


def ods_datasets_with_raw_labels() -> list[dict]:
    template = fixture_datasets()[0]  # Arbres d'alignement de Bron (routed to Bron)
    made = []
    for label, count in RAW_LABELS.items():
        for index in range(count):
            dataset = json.loads(json.dumps(template))
            slug = f"{label.lower().replace(' ', '-').replace('(', '').replace(')', '')}-{index}"
            dataset["dataset_id"] = slug
            dataset["dataset_uid"] = "da_" + slug
            dataset["metas"]["default"]["title"] = f"Jeu {label} {index}"
            dataset["metas"]["default"]["license"] = label
            dataset["metas"]["default"].pop("license_url", None)
            made.append(dataset)
    return made


def source_text(dataset: dict[str, Any]) -> list[str]:
    return json.loads(dataset.get("harvest_unmapped") or "{}").get("license_id", [])


def operator_context() -> dict[str, Any]:
    return {"user": factories.Sysadmin()["name"]}


def run_cli(*args: str) -> Any:
    from ckanext.communes.harvesters.cli import licences

    result = CliRunner().invoke(licences, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


# ------------------------------------------------------------------------------------- harvest


def test_an_ods_source_with_the_three_raw_labels_stores_no_raw_id_and_reports_the_unmapped_texts(
        portal, source_server):  # noqa: F811
    remote = RemoteODS(source_server, ods_datasets_with_raw_labels())
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert len(datasets) == sum(RAW_LABELS.values())
    unmapped: collections.Counter[str] = collections.Counter()
    for title, dataset in datasets.items():
        label = dataset["title"].removeprefix("Jeu ").rsplit(" ", 1)[0]
        # Never a raw string: every stored id is a registry id.
        assert get_licence(dataset["license_id"]) is not None, (title, dataset["license_id"])
        expected = normalize_licence(label, convention="ods").licence
        if expected is not None:  # a label the normaliser knows (licnorm decides which): that licence
            assert dataset["license_id"] == expected.id and not source_text(dataset)
        else:  # the « licence non reconnue » entry, the source's text kept
            assert dataset["license_id"] == UNRECOGNISED, title
            assert dataset["licence_compliance"] == "unknown"
            assert source_text(dataset) == [label]
            unmapped[label] += 1
    assert unmapped, "at least CC BY-NC maps to no licence of the registry"
    report = helpers.call_action("communes_harvest_report_show", context=operator_context(), id=job["id"])
    assert {entry["text"]: entry["count"] for entry in report["unrecognised_licences"]} == dict(unmapped)
    # Sorted by count, most frequent first.
    assert [entry["count"] for entry in report["unrecognised_licences"]] == sorted(unmapped.values(), reverse=True)


def test_the_job_page_lists_unrecognised_licences_with_counts_and_the_dataset_page_shows_the_source_text(
        app, portal, source_server):  # noqa: F811
    datasets = ods_datasets_with_raw_labels()
    datasets[0]["metas"]["default"]["license"] = 'Licence <script>alert("x")</script> maison'
    remote = RemoteODS(source_server, datasets)
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    headers = {"Authorization": factories.APIToken(user=portal["sysadmin"]["name"])["token"]}
    page = app.get(f"/harvest/{source['name']}/job/{job['id']}", headers=headers, status=200).body
    assert "Licences non reconnues" in page
    assert "« CC BY-NC » × 3" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    by_title = {d["title"]: d for d in harvested(source["id"]).values()}
    odd = by_title[datasets[0]["metas"]["default"]["title"]]
    dataset_page = app.get(f"/dataset/{odd['name']}", status=200).body
    assert "Licence indiquée par la source" in dataset_page
    assert "Licence non reconnue" in dataset_page
    assert "<script>alert" not in dataset_page and "Licence &lt;script&gt;" in dataset_page


def test_an_operator_alias_applies_at_the_next_harvest(portal, source_server):  # noqa: F811
    remote = RemoteODS(source_server, ods_datasets_with_raw_labels())
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    before = {t: d["license_id"] for t, d in harvested(source["id"]).items() if t.startswith("Jeu CC BY-NC")}
    assert set(before.values()) == {UNRECOGNISED}
    helpers.call_action("communes_licence_alias_create", context=operator_context(), alias="cc by-nc",
                        licence_id="other-nc")
    job = jobs.run_source(source["id"])
    after = {t: d for t, d in harvested(source["id"]).items() if t.startswith("Jeu CC BY-NC")}
    assert {d["license_id"] for d in after.values()} == {"other-nc"}
    assert not any(source_text(d) for d in after.values())
    report = helpers.call_action("communes_harvest_report_show", context=operator_context(), id=job["id"])
    assert "CC BY-NC" not in {entry["text"] for entry in report["unrecognised_licences"]}
    assert report_for_job(job["id"]).counts["update"] == 3


# ------------------------------------------------------------------------------------- renormalise


def _raw_write(dataset_id: str, license_id: str) -> None:
    """What an earlier version stored: the source's text as license_id (then indexed as such)."""
    model.Session.execute(model.package_table.update().where(model.package_table.c.id == dataset_id)
                          .values(license_id=license_id))
    model.Session.commit()
    search.rebuild(dataset_id)


def _bron_share() -> float | None:
    bilan = helpers.call_action("communes_bilan", context={"ignore_auth": True})
    row = next(row for row in bilan["rows"] if row["key"] == "69029")
    return row["values"]["licence_compliant_share"]


def _indexed_licences(ids: dict[str, str]) -> dict[str, str]:
    found = helpers.call_action("package_search", fq="id:(" + " OR ".join(ids.values()) + ")", rows=50)
    by_id = {d["id"]: d["license_id"] for d in found["results"]}
    return {name: by_id[i] for name, i in ids.items()}


def test_renormalise_dry_run_then_run_then_second_run_changes_nothing(portal):  # noqa: F811
    bron = model.Group.get("bron")
    made = {}
    for name, raw in (("lo2", "Licence Ouverte v2.0 (Etalab)"), ("commune-1", "Licence de la commune v2"),
                      ("commune-2", "Licence de la commune v2"), ("nc", "CC BY-NC"), ("maison", "Licence maison")):
        fields = minimal_fields({"id": bron.id}, name=f"jeu-{name}")
        made[name] = helpers.call_action("package_create", context=operator_context(), **fields)["id"]
        _raw_write(made[name], raw)
    # Before any alias: only the raw text the normaliser already reads counts as a legal-list licence.
    assert _bron_share() == pytest.approx(0.2)
    helpers.call_action("communes_licence_alias_create", context=operator_context(),
                        alias="Licence de la commune v2", licence_id="etalab-2.0")
    helpers.call_action("communes_licence_alias_create", context=operator_context(), alias="CC BY-NC",
                        licence_id="other-nc")
    stored = {name: model.Package.get(i).license_id for name, i in made.items()}
    indexed = _indexed_licences(made)

    dry = run_cli("renormalise")
    assert "dry run" in dry.output.lower()
    assert "'Licence de la commune v2': 2 dataset(s), Licence de la commune v2 -> etalab-2.0" in dry.output
    assert "'Licence maison': 1 dataset(s), Licence maison -> unrecognised" in dry.output
    assert "5 dataset(s) to change, 0 changed" in dry.output
    assert {name: model.Package.get(i).license_id for name, i in made.items()} == stored
    assert _indexed_licences(made) == indexed

    applied = run_cli("renormalise", "--apply")
    assert "5 dataset(s) to change, 5 changed, 0 failed" in applied.output
    after = {name: helpers.call_action("package_show", id=i) for name, i in made.items()}
    assert {name: d["license_id"] for name, d in after.items()} == {
        "lo2": "etalab-2.0", "commune-1": "etalab-2.0", "commune-2": "etalab-2.0", "nc": "other-nc",
        "maison": UNRECOGNISED}
    assert _indexed_licences(made) == {name: d["license_id"] for name, d in after.items()}
    assert source_text(after["maison"]) == ["Licence maison"]
    assert after["commune-1"]["licence_compliance"] == "authorised"
    assert after["maison"]["licence_compliance"] == "unknown"
    assert _bron_share() == pytest.approx(0.6)  # three of five under a licence of the legal list

    again = run_cli("renormalise", "--apply")
    assert "0 dataset(s) to change" in again.output
    assert {name: helpers.call_action("package_show", id=i)["metadata_modified"] for name, i in made.items()} == {
        name: d["metadata_modified"] for name, d in after.items()}

    # An alias added later reaches the dataset left unrecognised, from its kept source text.
    helpers.call_action("communes_licence_alias_create", context=operator_context(), alias="licence maison",
                        licence_id="other-closed")
    assert "1 dataset(s) to change, 1 changed" in run_cli("renormalise", "--apply").output
    maison = helpers.call_action("package_show", id=made["maison"])
    assert maison["license_id"] == "other-closed" and not source_text(maison)


def test_the_licence_facet_names_the_unrecognised_entry_in_french(app, portal, source_server):  # noqa: F811
    remote = RemoteODS(source_server, ods_datasets_with_raw_labels())
    jobs.run_source(make_source(portal, remote.url)["id"])
    page = app.get("/dataset/", status=200).body
    links = re.findall(r'<a[^>]+href="[^"]*license_id=unrecognised[^"]*"[^>]*>(.*?)</a>', page, re.S)
    assert links and "Licence non reconnue" in links[0]
    # No facet entry is a raw text of the source.
    assert not re.search(r'href="[^"]*license_id=CC(\+|%20)BY-NC', page)


def test_mapping_stores_no_raw_licence_on_resources_either_and_keeps_at_most_500_characters():
    from ckanext.communes.harvesters.mapping import map_to_schema

    mapped = map_to_schema({"title": "Jeu", "license_id": "Licence " + "x" * 10_000, "resources": [
        {"url": "https://example.org/a.csv", "license": "CC BY-NC"},
        {"url": "https://example.org/b.csv", "license": "lov2"}]}, convention="ods")
    assert mapped.dataset["license_id"] == UNRECOGNISED
    assert [r["license"] for r in mapped.dataset["resources"]] == [UNRECOGNISED, "etalab-2.0"]
    kept = json.loads(mapped.dataset["harvest_unmapped"])
    assert len(kept["license_id"][0]) == 500 and kept["resources.license"] == ["CC BY-NC"]
    assert mapped.unrecognised_licences == [kept["license_id"][0], "CC BY-NC"]
