"""`ckan communes seed`: creates the Métropole and the 58 communes, is idempotent, keeps operator edits
unless --force, and refuses a malformed data file before writing anything."""

from __future__ import annotations

import json
import pathlib

import pytest
from ckan.cli.cli import ckan
from ckan.tests import factories, helpers

from ckanext.communes.communes import registry
from ckanext.communes.tests.communes.conftest import write_communes_csv

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


def _seed(cli, *args: str):
    return cli.invoke(ckan, ["communes", "seed", *args])


def _org(name: str) -> dict:
    return helpers.call_action("organization_show", id=name, include_users=False)


def test_first_seed_creates_59_organisations_and_second_seed_changes_nothing(cli):
    first = _seed(cli)
    assert first.exit_code == 0, first.output
    assert "created: 59, updated: 0, unchanged: 0" in first.output
    second = _seed(cli)
    assert second.exit_code == 0, second.output
    assert "created: 0, updated: 0, unchanged: 59" in second.output

    names = helpers.call_action("organization_list", limit=1000)
    assert len(names) == 59
    assert {"bron", "lyon", "oullins-pierre-benite", "grigny-sur-rhone", "ecully", "champagne-au-mont-d-or",
            "metropole-de-lyon"} <= set(names)
    metropole = _org("metropole-de-lyon")
    assert (metropole["kind"], metropole["siren"], metropole["title"]) == ("metropole", "200046977",
                                                                          "Métropole de Lyon")
    assert int(metropole["population"]) == sum(c.population for c in registry.all_communes())
    oullins = _org("oullins-pierre-benite")
    assert (oullins["insee_code"], oullins["siren"], oullins["kind"]) == ("69149", "200102747", "commune")


def test_seed_gives_the_twelve_partners_their_2019_phase_and_invents_nothing_else(cli):
    assert _seed(cli).exit_code == 0
    statuses = {c["name"]: c["partner_status"]
                for c in helpers.call_action("commune_list", limit=1000)["results"]}
    assert len(statuses) == 58
    phase1 = {name for name, status in statuses.items() if status == "phase1"}
    phase2 = {name for name, status in statuses.items() if status == "phase2"}
    assert phase1 == {"bron", "champagne-au-mont-d-or", "lyon", "mions", "rillieux-la-pape",
                      "saint-didier-au-mont-d-or", "vaulx-en-velin"}
    assert phase2 == {"saint-cyr-au-mont-d-or", "sainte-foy-les-lyon", "villeurbanne", "limonest",
                      "charbonnieres-les-bains"}
    assert set(statuses.values()) == {"phase1", "phase2", "none"}
    bron = _org("bron")
    for invented in ("agents_fte", "convention_signed", "convention_end", "referent_email"):
        assert not bron.get(invented), invented


def test_seed_keeps_a_value_an_operator_changed_unless_forced(cli):
    assert _seed(cli).exit_code == 0
    operator = factories.Sysadmin()
    helpers.call_action("organization_patch", context={"user": operator["name"]},
                        id="bron", population="43000", partner_status="generalisation")

    kept = _seed(cli)
    assert kept.exit_code == 0, kept.output
    assert "created: 0, updated: 0, unchanged: 59" in kept.output
    assert "bron: population" in kept.output and "bron: partner_status" in kept.output
    assert (_org("bron")["population"], _org("bron")["partner_status"]) == ("43000", "generalisation")

    forced = _seed(cli, "--force")
    assert forced.exit_code == 0, forced.output
    assert "created: 0, updated: 1, unchanged: 58" in forced.output
    assert (_org("bron")["population"], _org("bron")["partner_status"]) == ("42850", "phase1")


def test_seed_updates_values_nobody_changed_when_the_data_file_changes(cli, tmp_path):
    assert _seed(cli).exit_code == 0
    newer = tmp_path / "communes-2023.csv"
    text = pathlib.Path(registry.DATA_FILE).read_text(encoding="utf-8")
    newer.write_text(text.replace("69029,Bron,216900290,69500,42850,2022", "69029,Bron,216900290,69500,43100,2023"),
                     encoding="utf-8")
    result = _seed(cli, "--file", str(newer))
    assert result.exit_code == 0, result.output
    # Bron and the Métropole (whose population is the sum of its communes') change.
    assert "created: 0, updated: 2, unchanged: 57" in result.output
    bron = _org("bron")
    assert (bron["population"], bron["population_year"]) == ("43100", "2023")
    assert json.loads(bron["seeded_values"])["population"] == "43100"


@pytest.mark.parametrize(("line", "broken", "message"), [
    (3, ("69029,Bron,216900290,", "69029,Bron,216900291,"), "invalid SIREN '216900291'"),
    (49, ("69276,Feyzin,216902767,69320,9727,", "69276,Feyzin,216902767,69320,-9727,"),
     "population must be positive"),
    (59, ("69296,Solaize,216902965,69360,3131,2022,,,", "69296,Solaize,216902965,69360,3131,2022,phase3,,"),
     "phase_2019 must be empty, phase1 or phase2"),
    (28, ("69149:Oullins:2024-01-01", "69149:Oullins:2024-13-01"), "invalid date"),
])
def test_malformed_data_file_stops_with_its_line_number_and_changes_nothing(cli, tmp_path, line, broken, message):
    broken_file = tmp_path / "communes.csv"
    text = pathlib.Path(registry.DATA_FILE).read_text(encoding="utf-8")
    assert broken[0] in text
    broken_file.write_text(text.replace(broken[0], broken[1]), encoding="utf-8")
    result = _seed(cli, "--file", str(broken_file))
    assert result.exit_code == 1
    assert f"line {line}: " in result.output and message in result.output, result.output
    assert "Nothing was changed" in result.output
    assert helpers.call_action("organization_list") == []


def test_malformed_file_leaves_a_seeded_portal_as_it_was(cli, tmp_path):
    small = write_communes_csv(tmp_path / "few.csv", ("69029", "69123"))
    assert _seed(cli, "--file", str(small)).exit_code == 0
    before = {name: _org(name) for name in helpers.call_action("organization_list")}
    broken = tmp_path / "broken.csv"
    broken.write_text(small.read_text(encoding="utf-8").replace("42850", "42851") + "75056,Paris,217500016,"
                      "75001,2100000,2022,,,\n", encoding="utf-8")
    result = _seed(cli, "--file", str(broken))
    assert result.exit_code == 1
    assert "line 4: INSEE code 75056 is not a commune of the Métropole" in result.output
    assert {name: _org(name) for name in helpers.call_action("organization_list")} == before
