"""The conditions regulation (EU) 2023/138 sets on a High-Value Dataset (issue #25 item 6), checked per HVD
dataset: an open licence at least as permissive as CC BY 4.0, a bulk download, an API (a data service),
up-to-date metadata (the declared frequency respected, quality/frequency.py). Shown in French on the dataset
page of an HVD dataset (what is missing), counted per commune in the bilan."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.quality import hvd
from ckanext.communes.tests.shared import CSV, EU

ADDRESSES = "http://data.europa.eu/bna/c_c3de25e4"
WFS = f"{EU}/file-type/WFS_SRVC"
NOW = dt.datetime(2025, 3, 1, 12)


def _dict(**fields: Any) -> dict[str, Any]:
    data = {
        "hvd_category": [ADDRESSES],
        "license_id": "etalab-2.0",
        "frequency": f"{EU}/frequency/MONTHLY",
        "modified": "2025-02-20",
        "resources": [{"url": "https://x.fr/adresses.csv", "format": "CSV"},
                      {"url": "https://x.fr/wfs?SERVICE=WFS&REQUEST=GetCapabilities", "format": "WFS"}],
    }
    data.update(fields)
    return data


def _missing(data: dict[str, Any]) -> list[str]:
    return [condition.key for condition in hvd.conditions(data, now=NOW) if not condition.met]


def test_a_dataset_without_category_is_not_an_hvd_and_has_no_conditions():
    assert not hvd.is_hvd(_dict(hvd_category=[]))
    assert hvd.is_hvd(_dict())


def test_an_hvd_with_an_open_licence_a_file_a_service_and_fresh_metadata_meets_every_condition():
    assert _missing(_dict()) == []
    assert [c.key for c in hvd.conditions(_dict(), now=NOW)] == ["licence", "bulk", "api", "up_to_date"]


@pytest.mark.parametrize("licence, met", [
    ("etalab-2.0", True), ("CC-BY-4.0", True), ("CC0-1.0", True), ("ODC-By-1.0", True), ("PDDL-1.0", True),
    ("ODbL-1.0", False),  # share-alike: more restrictive than CC BY 4.0
    ("CC-BY-SA-4.0", False), ("CC-BY-NC-4.0", False), ("grandlyon-engagee", False), ("notspecified", False),
    ("", False), ("Licence maison", False),
])
def test_the_licence_must_be_at_least_as_permissive_as_cc_by_4_0(licence, met):
    assert ("licence" not in _missing(_dict(license_id=licence))) is met


def test_a_resource_licence_stricter_than_cc_by_fails_the_licence_condition():
    resources = [{"url": "https://x.fr/a.csv", "format": "CSV", "license": "ODbL-1.0"},
                 {"url": "https://x.fr/wfs?SERVICE=WFS", "format": "WFS"}]
    assert "licence" in _missing(_dict(resources=resources))


def test_without_a_file_there_is_no_bulk_download_and_without_a_service_no_api():
    assert _missing(_dict(resources=[{"url": "https://x.fr/wfs?SERVICE=WFS", "format": "WFS"}])) == ["bulk"]
    assert _missing(_dict(resources=[{"url": "https://x.fr/a.csv", "format": "CSV"}])) == ["api"]
    # a web page is not a bulk download
    assert "bulk" in _missing(_dict(resources=[{"url": "https://x.fr/page", "format": "HTML"},
                                               {"url": "https://x.fr/wfs?SERVICE=WFS", "format": "WFS"}]))


def test_a_file_loaded_into_the_datastore_is_both_a_bulk_download_and_an_api():
    assert _missing(_dict(resources=[{"url": "https://x.fr/a.csv", "format": "CSV", "datastore_active": True}])) == []


def test_late_or_undeclared_frequency_means_metadata_not_up_to_date():
    assert _missing(_dict(modified="2024-01-01")) == ["up_to_date"]
    assert _missing(_dict(frequency=None)) == ["up_to_date"]


@pytest.mark.usefixtures("with_request_context")
def test_each_missing_condition_says_what_to_do_in_french():
    conditions = {c.key: c for c in hvd.conditions(_dict(license_id="ODbL-1.0", resources=[]), now=NOW)}
    assert conditions["licence"].label == "Licence ouverte au moins aussi permissive que CC BY 4.0"
    assert "Licence Ouverte 2.0" in conditions["licence"].hint
    assert conditions["api"].hint


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_dataset_page_of_an_hvd_shows_what_is_missing_in_french(app, sysadmin, bron):
    context = {"user": sysadmin["name"]}
    helpers.call_action("package_create", context=context, name="adresses", title="Adresses", notes="BAL",
                        owner_org=bron["id"], theme=["REGI"], license_id="ODbL-1.0", hvd_category=[ADDRESSES],
                        resources=[{"url": "https://x.fr/adresses.csv", "format": CSV}])
    helpers.call_action("package_create", context=context, name="budget", title="Budget", notes="B",
                        owner_org=bron["id"], theme=["REGI"], license_id="etalab-2.0",
                        resources=[{"url": "https://x.fr/budget.csv", "format": CSV}])
    html = app.get("/dataset/adresses", status=200).body
    assert "Données de forte valeur" in html
    assert "Licence ouverte au moins aussi permissive que CC BY 4.0" in html
    assert "API" in html
    assert "Conditions non remplies : 3 sur 4" in html
    assert "Conditions non remplies" not in app.get("/dataset/budget", status=200).body


def _two_hvd_and_one_other(sysadmin: dict[str, Any], bron: dict[str, Any]) -> None:
    context = {"user": sysadmin["name"]}
    base = {"owner_org": bron["id"], "theme": ["REGI"], "notes": "x", "hvd_category": [ADDRESSES],
            "frequency": f"{EU}/frequency/NEVER"}
    helpers.call_action("package_create", context=context, name="h1", title="H1", license_id="etalab-2.0",
                        resources=[{"url": "https://x.fr/a.csv", "format": CSV},
                                   {"url": "https://x.fr/wfs?SERVICE=WFS", "format": "WFS"}], **base)
    helpers.call_action("package_create", context=context, name="h2", title="H2", license_id="ODbL-1.0",
                        resources=[{"url": "https://x.fr/b.csv", "format": CSV}], **base)
    helpers.call_action("package_create", context=context, name="n1", title="N1", license_id="etalab-2.0",
                        owner_org=bron["id"], theme=["REGI"], notes="x",
                        resources=[{"url": "https://x.fr/c.csv", "format": CSV}])


@pytest.mark.usefixtures("clean_db", "clean_index", "with_request_context")
def test_the_bilan_counts_hvd_datasets_and_each_condition_met_per_commune(sysadmin, bron):
    from ckanext.communes.bilan import indicators

    _two_hvd_and_one_other(sysadmin, bron)
    row = next(r for r in indicators.build()["communes"] if r["key"] == "69029")
    assert row["values"]["hvd_datasets"] == 2
    assert row["values"]["hvd_compliant_share"] == 0.5
    assert row["details"]["hvd_conditions"] == [
        {"condition": "licence", "label": "Licence ouverte au moins aussi permissive que CC BY 4.0", "met": 1},
        {"condition": "bulk", "label": "Téléchargement en masse", "met": 2},
        {"condition": "api", "label": "API (service de données)", "met": 1},
        {"condition": "up_to_date", "label": "Métadonnées à jour", "met": 2},
    ]


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_communes_dashboard_shows_how_many_hvd_meet_each_condition(app, sysadmin, bron):
    from ckan.tests import factories

    from ckanext.communes.bilan import cache

    _two_hvd_and_one_other(sysadmin, bron)
    cache.bump()
    token = factories.SysadminWithToken()["token"]
    html = app.get("/organization/bron", headers={"Authorization": token}, status=200).body
    assert 'data-hvd-datasets="2"' in html
    assert "Licence ouverte au moins aussi permissive que CC BY 4.0 : 1 sur 2" in html
