"""commune_show, commune_list (filters, pagination), the obligation in organization_show, and
`ckan communes conventions`. All tests share one seeded database (`world`)."""

from __future__ import annotations

import datetime

import pytest
from ckan import model
from ckan.cli.cli import ckan
from ckan.lib import search
from ckan.tests import helpers

from ckanext.communes.communes import programme


def _set(world, org: str, **values) -> None:
    helpers.call_action("organization_patch", context={"user": world.sysadmin["name"]}, id=org, **values)


def _index_dataset(owner: str, name: str) -> None:
    """A public dataset of an organisation, stored and indexed without the dataset schema (owned by
    another concern): only its count matters here."""
    org = model.Group.get(owner)
    package = model.Package(name=name, title=name, owner_org=org.id, type="dataset", private=False)
    model.Session.add(package)
    model.Session.commit()
    search.rebuild(package.id)


@pytest.mark.parametrize(("key", "name"), [
    ("69029", "bron"),
    ("216900290", "bron"),
    ("bron", "bron"),
    ("69152", "oullins-pierre-benite"),  # Pierre-Bénite before the 2024 merger
    ("69149", "oullins-pierre-benite"),
    ("200102747", "oullins-pierre-benite"),
    ("69385", "lyon"),  # an arrondissement
    ("69096", "grigny-sur-rhone"),
    ("200046977", "metropole-de-lyon"),
])
def test_commune_show_finds_a_commune_by_insee_code_siren_or_name(app, world, key, name):
    result = app.get(f"/api/3/action/commune_show?id={key}", status=200).json["result"]
    assert result["name"] == name


def test_commune_show_of_a_former_code_says_so_and_lists_the_history(app, world):
    result = app.get("/api/3/action/commune_show?id=69152", status=200).json["result"]
    assert result["requested_code_is_former"] is True
    assert {(f["insee"], f["name"]) for f in result["former"]} == {("69149", "Oullins"), ("69152", "Pierre-Bénite")}
    assert result["insee_code"] == "69149"


def test_commune_show_gives_identity_obligation_programme_and_dataset_count(app, world):
    _index_dataset("limonest", "limonest-budget")
    _set(world, "limonest", agents_fte="120", convention_signed="2020-02-01")
    result = app.get("/api/3/action/commune_show?id=69116", status=200).json["result"]
    assert (result["insee_code"], result["siren"], result["kind"]) == ("69116", "216901165", "commune")
    assert (result["population"], result["population_year"], result["agents_fte"]) == (3933, 2022, 120.0)
    assert result["obligation"]["status"] == "obliged"
    assert "50 agents ou plus" in result["obligation"]["reason"]  # French, the portal's locale
    assert result["partner_status"] == "phase2" and result["partner_status_label"] == "Phase 2"
    assert result["convention"]["end"] == "2021-02-01"  # one year after signature
    assert result["convention"]["state"] == "ended"
    assert result["dataset_count"] == 1
    assert result["url"].endswith("/organization/limonest")


@pytest.mark.parametrize("key", ["75056", "Oullins", "inconnue"])
def test_commune_show_of_an_unknown_commune_is_a_404_in_french(app, world, key):
    response = app.get(f"/api/3/action/commune_show?id={key}", status=404)
    assert "Aucune commune de la Métropole de Lyon ne correspond" in response.json["error"]["message"]


def test_organization_show_returns_the_derived_obligation_with_its_reason(world):
    albigny = helpers.call_action("organization_show", id="albigny-sur-saone")
    assert albigny["obligation"]["status"] == "not_obliged"
    bron = helpers.call_action("organization_show", id="bron")
    assert bron["obligation"]["status"] in ("probably_obliged", "obliged")
    assert bron["obligation"]["reason"]
    assert "obligation" not in model.Group.get("bron").extras  # derived, never stored


def test_obligation_cannot_be_typed(app, world):
    helpers.call_action("organization_patch", context={"user": world.sysadmin["name"]}, id="albigny-sur-saone",
                        obligation={"status": "obliged"})
    albigny = helpers.call_action("organization_show", id="albigny-sur-saone")
    assert albigny["obligation"]["status"] == "not_obliged"


def _list(app, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return app.get(f"/api/3/action/commune_list?{query}", status=200).json["result"]


def test_commune_list_lists_communes_sorted_by_name_without_the_metropole(app, world):
    result = _list(app)
    assert result["count"] == 6
    assert [c["name"] for c in result["results"]] == [
        "albigny-sur-saone", "bron", "grigny-sur-rhone", "limonest", "lyon", "oullins-pierre-benite"]
    assert _list(app, kind="all")["count"] == 7


def test_commune_list_filters_by_partner_status(app, world):
    assert {c["name"] for c in _list(app, partner_status="phase1")["results"]} == {"bron", "lyon"}
    assert {c["name"] for c in _list(app, partner_status="phase1,phase2")["results"]} == {"bron", "lyon", "limonest"}
    assert {c["name"] for c in _list(app, partner_status="none")["results"]} == {
        "albigny-sur-saone", "grigny-sur-rhone", "oullins-pierre-benite"}


def test_commune_list_filters_by_obligation(app, world):
    _set(world, "grigny-sur-rhone", agents_fte="49")
    _set(world, "oullins-pierre-benite", agents_fte="400")
    obliged = {c["name"] for c in _list(app, obliged="obliged")["results"]}
    assert "oullins-pierre-benite" in obliged and "grigny-sur-rhone" not in obliged
    not_obliged = {c["name"] for c in _list(app, obliged="not_obliged")["results"]}
    assert {"albigny-sur-saone", "grigny-sur-rhone"} <= not_obliged
    assert {c["name"] for c in _list(app, obliged="true")["results"]} == obliged
    assert "lyon" in {c["name"] for c in _list(app, obliged="probably_obliged")["results"]}


def test_commune_list_filters_conventions_ending_within_n_days_or_ended(app, world):
    today = datetime.date.today()
    _set(world, "lyon", convention_signed=(today - datetime.timedelta(days=300)).isoformat(),
         convention_end=(today + datetime.timedelta(days=20)).isoformat())
    _set(world, "bron", convention_signed=(today - datetime.timedelta(days=100)).isoformat(),
         convention_end=(today + datetime.timedelta(days=200)).isoformat())
    within_60 = {c["name"]: c["convention"] for c in _list(app, expiring_within_days=60)["results"]}
    assert "lyon" in within_60 and "bron" not in within_60
    assert within_60["lyon"]["state"] == "expiring" and within_60["lyon"]["days_left"] == 20
    assert "bron" in {c["name"] for c in _list(app, expiring_within_days=365)["results"]}
    assert "lyon" not in {c["name"] for c in _list(app, expiring_within_days=10)["results"]}


def test_commune_list_searches_current_and_former_names_codes_and_postcodes(app, world):
    assert [c["name"] for c in _list(app, q="Pierre-Benite")["results"]] == ["oullins-pierre-benite"]
    assert [c["name"] for c in _list(app, q="oullins")["results"]] == ["oullins-pierre-benite"]
    assert [c["name"] for c in _list(app, q="69600")["results"]] == ["oullins-pierre-benite"]
    assert [c["name"] for c in _list(app, q="69029")["results"]] == ["bron"]
    assert _list(app, q="Villeurbanne")["count"] == 0


def test_commune_list_paginates(app, world):
    page = _list(app, limit=2, offset=2)
    assert page["count"] == 6
    assert [c["name"] for c in page["results"]] == ["grigny-sur-rhone", "limonest"]


@pytest.mark.parametrize(("params", "field"), [
    ("partner_status=phase9", "partner_status"),
    ("obliged=maybe", "obliged"),
    ("expiring_within_days=-3", "expiring_within_days"),
    ("limit=many", "limit"),
])
def test_commune_list_refuses_unknown_filter_values(app, world, params, field):
    response = app.get(f"/api/3/action/commune_list?{params}", status=409)
    assert field in response.json["error"]


def test_conventions_command_lists_conventions_ending_soon_or_ended(cli, world):
    today = datetime.date.today()
    _set(world, "grigny-sur-rhone", convention_signed=(today - datetime.timedelta(days=400)).isoformat(),
         convention_end=(today - datetime.timedelta(days=5)).isoformat())
    _set(world, "lyon", convention_signed=(today - datetime.timedelta(days=300)).isoformat(),
         convention_end=(today + datetime.timedelta(days=20)).isoformat())
    _set(world, "bron", convention_signed=(today - datetime.timedelta(days=100)).isoformat(),
         convention_end=(today + datetime.timedelta(days=200)).isoformat())
    result = cli.invoke(ckan, ["communes", "conventions", "--expiring-within", "60"])
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line for line in result.output.splitlines() if "\t" in line}
    assert "ended 5 day(s) ago" in lines["grigny-sur-rhone"]
    assert "ends in 20 day(s)" in lines["lyon"]
    assert "bron" not in lines


def test_convention_state_boundaries():
    today = datetime.date(2025, 3, 1)
    assert programme.convention_state(None, None, today)["state"] == "none"
    assert programme.convention_state("2024-03-01", None, today) == {"state": "expiring", "end": "2025-03-01",
                                                                     "days_left": 0}
    assert programme.convention_state("2024-02-29", None, today)["end"] == "2025-02-28"
    assert programme.convention_state(None, "2025-04-30", today, warning_days=60)["state"] == "expiring"
    assert programme.convention_state(None, "2025-05-01", today, warning_days=60)["state"] == "active"
    assert programme.convention_state(None, "2025-02-28", today)["state"] == "ended"


def test_commune_org_for_resolves_current_and_former_codes_sirens_and_names(world):
    assert programme.commune_org_for("69152")["name"] == "oullins-pierre-benite"
    assert programme.commune_org_for("69387")["name"] == "lyon"
    assert programme.commune_org_for("216900290")["name"] == "bron"
    assert programme.commune_org_for({"name": "bron"})["insee_code"] == "69029"
    assert programme.commune_org_for("200046977")["name"] == "metropole-de-lyon"
    assert programme.commune_org_for("69003")["name"] == "albigny-sur-saone"
    assert programme.commune_org_for("69266") is None  # Villeurbanne is not seeded in this world
    assert programme.commune_org_for("75056") is None
