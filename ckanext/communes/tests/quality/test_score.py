"""The quality score: each criterion met and missed, the frequency rule at its boundary, the SHACL check
per dataset in the background, the score in package_show and in Solr (sort, facet), and the score
rising when a broken link is fixed."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.quality import evidence, frequency, link_probe, models, score, shacl
from ckanext.communes.tests.shared import ANNUAL, CSV, ENVI, EU

NOW = dt.datetime(2026, 11, 28, 12, 0, 0)
SCDL_EQUIPEMENTS = "https://schema.data.gouv.fr/scdl/equipements/"
LONG_NOTES = ("Inventaire des arbres d'alignement de la commune : essence, hauteur, diamètre du tronc, "
              "date de plantation et adresse, tenu à jour par le service des espaces verts.")


@dataclass
class Link:
    ok: bool | None
    checked_at: dt.datetime | None = NOW


@dataclass
class Scdl:
    valid: bool | None


@dataclass
class Shacl:
    conforms: bool | None
    violations: int = 0


def perfect() -> dict[str, Any]:
    """A dataset dict (package_show's shape) meeting every criterion, with its evidence."""
    return {
        "id": "d1", "type": "dataset", "name": "arbres", "title": "Arbres", "notes": LONG_NOTES,
        "publisher": [{"name": "Commune de Bron"}], "tags": [{"name": "arbres"}], "theme": [ENVI],
        "license_id": "etalab-2.0", "frequency": ANNUAL, "modified": "2026-06-01",
        "metadata_modified": "2026-06-01T10:00:00",
        "spatial_coverage": [{"uri": "http://id.insee.fr/geo/commune/69029", "text": "Bron"}],
        "temporal_coverage": [{"start": "2020-01-01"}],
        "contact": [{"name": "SIG", "email": "sig@ville-bron.fr"}],
        "conforms_to": [SCDL_EQUIPEMENTS],
        "resources": [{"id": "r1", "url": "https://data.ville-bron.fr/arbres.csv", "format": CSV}],
    }


EVIDENCE = {"links": {"r1": Link(True)}, "scdl": {"r1": Scdl(True)}, "shacl": Shacl(True)}


def judge(pkg: dict[str, Any], **given: Any) -> dict[str, Any]:
    return score.quality_of(pkg, now=NOW, **{**EVIDENCE, **given})


# What makes each criterion missed (and only it), and the words of its French sentence.
MISSES = {
    "dcat_properties": (lambda p: p.update(tags=[]), {}, "mots-clés"),
    "shacl": (lambda p: None, {"shacl": Shacl(False, 2)}, "DCAT-AP"),
    "licence": (lambda p: p.update(license_id="CC-BY-4.0"), {}, "Licence Ouverte 2.0"),
    "description": (lambda p: p.update(notes="Les arbres."), {}, "100 caractères"),
    "theme": (lambda p: p.update(theme=[]), {}, "thème"),
    "spatial": (lambda p: p.update(spatial_coverage=[]), {}, "couverture géographique"),
    "temporal": (lambda p: p.update(temporal_coverage=[{"start": "", "end": ""}]), {}, "période"),
    "contact": (lambda p: p.update(contact=[{"name": "SIG"}]), {}, "point de contact"),
    "frequency": (lambda p: p.update(modified="2024-01-01"), {}, "Mettez les données à jour"),
    # A PDF is no CSV: the dataset must name no SCDL schema for open_format alone to be missed.
    "open_format": (lambda p: (p["resources"][0].update(format=f"{EU}/file-type/PDF"), p.update(conforms_to=[])),
                    {}, "format ouvert"),
    "links": (lambda p: None, {"links": {"r1": Link(False)}}, "lien est cassé"),
    "scdl": (lambda p: None, {"scdl": {"r1": Scdl(False)}}, "schéma SCDL"),
}


def test_weights_sum_to_100_and_every_criterion_says_what_to_do():
    items = score.criteria()
    assert sum(item["weight"] for item in items) == 100
    assert {item["id"] for item in items} == set(MISSES)
    assert all(item["label"] and item["todo"] for item in items)


def test_a_dataset_meeting_every_criterion_scores_100():
    quality = judge(perfect())
    assert quality == {"score": 100, "met": [item["id"] for item in score.criteria()], "missed": []}


@pytest.mark.parametrize("criterion_id", list(MISSES))
def test_each_criterion_missed_costs_its_weight_and_says_what_to_do(criterion_id):
    change, given, words = MISSES[criterion_id]
    pkg = copy.deepcopy(perfect())
    change(pkg)
    quality = judge(pkg, **given)
    assert [item["criterion"] for item in quality["missed"]] == [criterion_id]
    assert quality["score"] == 100 - score.criterion(criterion_id)["weight"]
    assert words in quality["missed"][0]["message"]
    assert criterion_id not in quality["met"]


def test_checks_not_run_yet_are_missed_as_pending():
    quality = score.quality_of(perfect(), now=NOW, links={"r1": Link(None, None)}, scdl={}, shacl=None)
    pending = {item["criterion"]: item["message"] for item in quality["missed"] if item["pending"]}
    assert set(pending) == {"shacl", "links", "scdl"}
    assert "pas encore" in pending["links"]


def test_scdl_does_not_apply_to_a_dataset_naming_no_scdl_schema():
    pkg = perfect()
    pkg["conforms_to"] = []
    assert "scdl" in judge(pkg, scdl={})["met"]


def test_scdl_counts_only_results_of_the_csv_resources_declaring_a_schema_now():
    """The dataset's job forgets the result of a resource no longer concerned after the save; the score,
    computed during the save, already ignores it."""
    pkg = perfect()
    pkg["resources"][0]["format"] = f"{EU}/file-type/PDF"  # r1 validated as a CSV, now a PDF
    pkg["resources"].append({"id": "r2", "url": "https://data.ville-bron.fr/arbres.json", "format": CSV})
    quality = judge(pkg, links={"r1": Link(True), "r2": Link(True)}, scdl={"r1": Scdl(True)})
    scdl_missed = next(item for item in quality["missed"] if item["criterion"] == "scdl")
    assert scdl_missed["pending"] is True  # r2 is concerned and not validated yet; r1's result is ignored
    assert quality["score"] == 100 - score.criterion("scdl")["weight"]


def test_a_frequency_not_declared_is_missed_with_its_own_sentence():
    pkg = perfect()
    pkg["frequency"] = f"{EU}/frequency/UNKNOWN"
    missed = judge(pkg)["missed"]
    assert [m["criterion"] for m in missed] == ["frequency"] and "Déclarez" in missed[0]["message"]


# ----------------------------------------------------------------------------- frequency boundaries

def _respected(code: str, last: dt.datetime, now: dt.datetime, links_ok_at: dt.datetime | None = None) -> bool:
    pkg = {"frequency": f"{EU}/frequency/{code}", "metadata_modified": last.isoformat()}
    return frequency.judge(pkg, now=now, links_checked_ok_at=links_ok_at).verdict == "respected"


@pytest.mark.parametrize("code, allowed", [
    ("DAILY", dt.timedelta(days=2)),                 # 1 day + 1 day (min tolerance)
    ("MONTHLY", dt.timedelta(days=38.75)),           # 31 days + 25 %
    ("ANNUAL", dt.timedelta(days=457.5)),            # 366 days + 25 %
    ("UPDATE_CONT", dt.timedelta(days=2)),           # real time: the window
    ("IRREG", dt.timedelta(days=1095)),              # irregular: 3 years at most
])
def test_frequency_is_respected_exactly_at_its_boundary_and_late_one_second_after(code, allowed):
    last = dt.datetime(2025, 1, 1)
    assert frequency.allowed_age(code) == allowed
    assert _respected(code, last, last + allowed)
    assert not _respected(code, last, last + allowed + dt.timedelta(seconds=1))


def test_a_date_only_modified_counts_from_midnight_and_wins_over_metadata_modified():
    pkg = {"frequency": f"{EU}/frequency/DAILY", "modified": "2026-11-26", "metadata_modified": "2026-11-28T11:00:00"}
    assert frequency.judge(pkg, now=dt.datetime(2026, 11, 28)).verdict == "respected"
    assert frequency.judge(pkg, now=dt.datetime(2026, 11, 28, 0, 0, 1)).verdict == "late"


def test_real_time_is_respected_when_its_links_answered_within_the_window():
    last = dt.datetime(2025, 1, 1)
    now = last + dt.timedelta(days=30)
    assert not _respected("UPDATE_CONT", last, now)
    assert _respected("UPDATE_CONT", last, now, links_ok_at=now - dt.timedelta(days=2))
    assert not _respected("UPDATE_CONT", last, now, links_ok_at=now - dt.timedelta(days=2, seconds=1))
    # A daily dataset gets no such pass: its metadata says when the data changed.
    assert not _respected("DAILY", last, now, links_ok_at=now)


def test_never_updated_datasets_always_respect_their_frequency():
    assert _respected("NEVER", dt.datetime(1990, 1, 1), NOW)
    assert _respected("NOT_PLANNED", dt.datetime(1990, 1, 1), NOW)


# ------------------------------------------------------------------------------ with CKAN and Solr

def dataset_fields(org: dict[str, Any], name: str, **overrides: Any) -> dict[str, Any]:
    fields = {
        "name": name, "title": name.replace("-", " ").capitalize(), "notes": LONG_NOTES, "owner_org": org["id"],
        "tag_string": "arbres", "theme": [ENVI], "license_id": "etalab-2.0", "frequency": ANNUAL,
        "modified": dt.date.today().isoformat(),
        "temporal_coverage": [{"start": "2020-01-01"}],
        "resources": [{"url": f"https://data.ville-bron.fr/{name}.csv", "name": "CSV", "format": CSV}],
    }
    fields.update(overrides)
    return fields


def create(sysadmin: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return helpers.call_action("package_create", context={"user": sysadmin["name"]}, **fields)


def show(package_id: str) -> dict[str, Any]:
    return helpers.call_action("package_show", id=package_id)


def missed_ids(pkg: dict[str, Any]) -> list[str]:
    return [item["criterion"] for item in pkg["quality"]["missed"]]


@pytest.mark.usefixtures("clean_db", "clean_index")
class TestWithCkan:
    def test_package_show_returns_the_quality(self, sysadmin, bron):
        dataset = create(sysadmin, dataset_fields(bron, "arbres"))
        quality = show(dataset["id"])["quality"]
        assert set(missed_ids(show(dataset["id"]))) == {"shacl", "links"}  # both checks still to run
        assert quality["score"] == 80
        assert all(item["message"] for item in quality["missed"])

    def test_package_update_with_the_shown_dict_round_trips(self, sysadmin, bron):
        dataset = create(sysadmin, dataset_fields(bron, "arbres"))
        shown = show(dataset["id"])
        shown["title"] = "Arbres d'alignement"
        updated = helpers.call_action("package_update", context={"user": sysadmin["name"]}, **shown)
        assert updated["title"] == "Arbres d'alignement" and updated["quality"]["score"] == 80

    def test_shacl_check_passes_in_the_background_and_raises_the_score(self, sysadmin, bron):
        from ckan.lib import jobs

        from ckanext.communes.quality import background

        dataset = create(sysadmin, dataset_fields(bron, "arbres"))  # waits for its checks
        assert evidence.shacl_row_for(dataset["id"]) is None
        jobs.Worker([background.PRIORITY_QUEUE, "default", background.BULK_QUEUE]).work(burst=True)
        row = evidence.shacl_row_for(dataset["id"])
        assert row is not None and row.conforms is True and row.violations == 0
        assert "shacl" in show(dataset["id"])["quality"]["met"]
        found = helpers.call_action("package_search", fq="-vocab_quality_missed:shacl")
        assert [d["name"] for d in found["results"]] == ["arbres"]

    def test_shacl_check_fails_for_a_dataset_whose_rdf_breaks_the_shapes(self, sysadmin, bron):
        # foaf:page must be a foaf:Document (an IRI): a documentation that is not a URL violates the shapes.
        dataset = create(sysadmin, dataset_fields(bron, "arbres", documentation=["voir la mairie"]))
        result = shacl.check_dataset(dataset["id"])
        assert result is not None and result.conforms is False and result.violations >= 1
        row = evidence.shacl_row_for(dataset["id"])
        assert row.conforms is False and any("foaf/0.1/page" in m["path"] for m in row.messages)
        quality = show(dataset["id"])["quality"]
        shacl_missed = next(item for item in quality["missed"] if item["criterion"] == "shacl")
        assert not shacl_missed["pending"] and "DCAT-AP" in shacl_missed["message"]
        found = helpers.call_action("package_search", fq="vocab_quality_missed:shacl")
        assert found["count"] == 1

    def test_search_sorts_by_quality_and_facets_by_missed_criterion(self, sysadmin, bron):
        create(sysadmin, dataset_fields(bron, "moyen"))                                   # 80
        create(sysadmin, dataset_fields(bron, "faible", notes="Court.", temporal_coverage=[],
                                        frequency=f"{EU}/frequency/UNKNOWN"))             # 55
        create(sysadmin, dataset_fields(bron, "sans-ressource", resources=[]))            # 60
        best = helpers.call_action("package_search", q="*:*", sort="quality_score desc")
        assert [d["name"] for d in best["results"]] == ["moyen", "sans-ressource", "faible"]
        assert [d["quality"]["score"] for d in best["results"]] == [80, 60, 55]
        worst = helpers.call_action("package_search", q="*:*", sort="quality_score asc")
        assert [d["name"] for d in worst["results"]] == ["faible", "sans-ressource", "moyen"]
        faceted = helpers.call_action("package_search", q="*:*", **{"facet.field": ["vocab_quality_missed"]})
        counts = faceted["facets"]["vocab_quality_missed"]
        assert counts["description"] == 1 and counts["frequency"] == 1 and counts["temporal"] == 1
        assert counts["open_format"] == 1 and counts["dcat_properties"] == 1
        assert counts["shacl"] == 3
        only = helpers.call_action("package_search", fq="vocab_quality_missed:description")
        assert [d["name"] for d in only["results"]] == ["faible"]

    def test_the_score_rises_when_a_broken_link_is_fixed(self, sysadmin, bron):
        from ckan import model

        from ckanext.communes.quality import linkcheck

        dataset = create(sysadmin, dataset_fields(bron, "arbres"))
        resource = dataset["resources"][0]
        broken = link_probe.Outcome(ok=False, status=404, error="http_status")
        assert linkcheck.store(dataset["id"], resource["id"], resource["url"], broken)
        model.Session.commit()
        evidence.refresh(dataset["id"])
        before = show(dataset["id"])["quality"]
        links = next(item for item in before["missed"] if item["criterion"] == "links")
        assert not links["pending"] and "cassé" in links["message"]
        assert helpers.call_action("package_search", fq="vocab_quality_missed:links")["count"] == 1

        fixed = link_probe.Outcome(ok=True, status=200, final_url=resource["url"], media_type="text/csv")
        assert linkcheck.store(dataset["id"], resource["id"], resource["url"], fixed)
        model.Session.commit()
        evidence.refresh(dataset["id"])
        after = show(dataset["id"])["quality"]
        assert "links" in after["met"] and after["score"] == before["score"] + 10
        assert helpers.call_action("package_search", fq="vocab_quality_missed:links")["count"] == 0
        ranked = helpers.call_action("package_search", q="*:*", sort="quality_score desc")["results"]
        assert ranked[0]["quality"]["score"] == after["score"]  # the index has the new score

    def test_recompute_command_reindexes_a_communes_datasets(self, sysadmin, bron, cli):
        from ckan import model

        from ckanext.communes.quality.cli import quality

        dataset = create(sysadmin, dataset_fields(bron, "arbres"))
        model.Session.add(models.ShaclCheck(package_id=dataset["id"], conforms=True, violations=0, messages=[],
                                           checked_at=dt.datetime.utcnow()))
        model.Session.commit()  # written behind the index's back: the index still says shacl is missed
        assert helpers.call_action("package_search", fq="vocab_quality_missed:shacl")["count"] == 1
        result = cli.invoke(quality, ["recompute", "--commune", "69029"])
        assert result.exit_code == 0, result.output
        assert "1 dataset(s) recomputed" in result.output
        assert helpers.call_action("package_search", fq="vocab_quality_missed:shacl")["count"] == 0

    def test_dataset_and_commune_pages_show_the_quality(self, app, sysadmin, bron):
        create(sysadmin, dataset_fields(bron, "arbres"))
        create(sysadmin, dataset_fields(bron, "faible", notes="Court."))
        page = app.get("/dataset/arbres", extra_environ={"REMOTE_USER": sysadmin["name"]}).body
        assert 'id="communes-quality"' in page and 'data-quality-score="80"' in page
        assert "La vérification des liens n&#39;a pas encore été faite." in page or "pas encore été faite" in page
        org_page = app.get("/organization/bron", extra_environ={"REMOTE_USER": sysadmin["name"]}).body
        assert 'data-quality-mean="75"' in org_page  # (80 + 70) / 2
        assert org_page.index('data-dataset="faible"') < org_page.index('data-dataset="arbres"')
        search_page = app.get("/dataset/?sort=quality_score+desc%2C+metadata_modified+desc").body
        assert "quality_score desc" in search_page
