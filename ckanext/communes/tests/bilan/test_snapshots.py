"""Snapshots of the bilan: frozen with both groupings, never changed (neither by the model nor by SQL), a
dataset changed afterwards leaves them as they were and the comparison shows the difference; labels
checked; the CLI."""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import helpers

from ckanext.communes.bilan import cache, indicators, snapshots
from ckanext.communes.bilan.model import BilanSnapshot, FrozenSnapshotError
from ckanext.communes.tests.bilan import expected


def rows_by_key(bilan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in bilan["rows"]}


def make_b2_compliant(portal: dict[str, Any]) -> None:
    """B2 (Bron, harvested) gets the Licence Ouverte: its score rises by the licence's 15 points, 45 -> 60."""
    helpers.call_action("package_patch", context={"user": portal["sysadmin"], "communes_harvest": True},
                        id=portal["ids"]["b2"], license_id="etalab-2.0")


def test_a_snapshot_holds_both_groupings_as_computed_when_it_was_taken(portal, with_request_context):
    before = {group_by: indicators.compute(group_by) for group_by in indicators.GROUP_BY}
    meta = snapshots.create("  Bilan phase 1  ", "operateur")
    assert meta["label"] == "Bilan phase 1"
    assert meta["created_by"] == "operateur"
    for group_by in indicators.GROUP_BY:
        shown = snapshots.show(meta["id"], group_by)
        assert shown["snapshot"] == meta
        assert shown["group_by"] == group_by
        assert shown["rows"] == before[group_by]["rows"]
    assert snapshots.list_snapshots() == [meta]
    assert rows_by_key(snapshots.show(meta["id"]))["69029"]["values"] == expected.COMMUNE_VALUES["69029"] | {
        "convention_days_left": rows_by_key(before["commune"])["69029"]["values"]["convention_days_left"]}


def test_a_dataset_changed_after_a_snapshot_leaves_it_unchanged_and_the_comparison_shows_it(portal,
                                                                                         with_request_context):
    frozen = snapshots.create("Bilan phase 1", "operateur")
    make_b2_compliant(portal)
    bron_then = rows_by_key(snapshots.show(frozen["id"]))["69029"]["values"]
    bron_now = rows_by_key(indicators.compute())["69029"]["values"]
    assert (bron_then["licence_compliant_share"], bron_then["quality_mean"]) == (0.6667, 60.0)
    # Scores 80, 60, 55: licences 3/3, mean 65, median 60.
    assert (bron_now["licence_compliant_share"], bron_now["quality_mean"], bron_now["quality_median"]) == (
        1.0, 65.0, 60.0)

    compared = snapshots.compare(frozen["id"])
    assert compared["a"] == frozen and compared["b"]["id"] == "today"
    rows = rows_by_key(compared)
    assert rows["69029"]["changed"] == ["licence_compliant_share", "quality_mean", "quality_median"]
    assert rows["69029"]["changes"]["licence_compliant_share"] == {"a": 0.6667, "b": 1.0, "delta": 0.3333}
    assert rows["69029"]["changes"]["quality_mean"] == {"a": 60.0, "b": 65.0, "delta": 5.0}
    assert rows["69029"]["changes"]["first_published"] == {"a": "2024-03-10", "b": "2024-03-10", "delta": None}
    assert rows["69123"]["changed"] == []
    assert compared["changed_rows"] == 1

    # Phase 1: licences 3/4 -> 4/4; scores 80, 45, 55, 60 -> 80, 60, 55, 60: mean 60 -> 63.75, median 57.5 -> 60.
    by_phase = rows_by_key(snapshots.compare(frozen["id"], "today", "phase"))
    assert by_phase["phase1"]["changes"]["licence_compliant_share"] == {"a": 0.75, "b": 1.0, "delta": 0.25}
    assert by_phase["phase1"]["changes"]["quality_mean"] == {"a": 60.0, "b": 63.75, "delta": 3.75}
    assert by_phase["phase1"]["changes"]["quality_median"] == {"a": 57.5, "b": 60.0, "delta": 2.5}
    assert by_phase["non_partner"]["changed"] == []


def test_two_snapshots_compare_either_way(portal):
    first = snapshots.create("Avant", "operateur")
    make_b2_compliant(portal)
    second = snapshots.create("Après", "operateur")
    forward = rows_by_key(snapshots.compare(first["id"], second["id"]))["69029"]["changes"]
    backward = rows_by_key(snapshots.compare(second["id"], first["id"]))["69029"]["changes"]
    assert forward["quality_mean"] == {"a": 60.0, "b": 65.0, "delta": 5.0}
    assert backward["quality_mean"] == {"a": 65.0, "b": 60.0, "delta": -5.0}
    assert [m["id"] for m in snapshots.list_snapshots()] == [second["id"], first["id"]]


def test_the_model_refuses_to_change_a_snapshot(portal):
    meta = snapshots.create("Bilan phase 1", "operateur")
    stored = model.Session.get(BilanSnapshot, meta["id"])
    stored.label = "Bilan retouché"
    with pytest.raises(FrozenSnapshotError):
        model.Session.commit()
    model.Session.rollback()
    assert snapshots.show(meta["id"])["snapshot"]["label"] == "Bilan phase 1"


def test_the_database_refuses_an_update_written_by_hand(portal):
    meta = snapshots.create("Bilan phase 1", "operateur")
    with pytest.raises(sa.exc.DBAPIError, match="never changed"):
        model.Session.execute(sa.text("UPDATE communes_bilan_snapshot SET payload = '{}' WHERE id = :id"),
                              {"id": meta["id"]})
    model.Session.rollback()
    assert snapshots.show(meta["id"])["rows"][0]["key"] == "69003"


def test_taking_a_snapshot_invalidates_the_cached_bilan(portal):
    generation = cache.generation()
    snapshots.create("Bilan", "operateur")
    assert cache.generation() == generation + 1


@pytest.mark.parametrize(("label", "message"), [
    ("", "Libellé (label) : ce champ est obligatoire."),
    ("   ", "Libellé (label) : ce champ est obligatoire."),
    (None, "Libellé (label) : ce champ est obligatoire."),
    ("x" * 201, "Libellé (label) : 200 caractères au plus (201 saisis)."),
    (["Bilan"], "Libellé (label) : saisissez un texte."),
    ("Bilan\nphase 1", "Libellé (label) : les retours à la ligne et caractères de contrôle ne sont pas admis."),
])
def test_a_bad_label_is_refused_in_french_naming_the_field(label, message, with_request_context):
    with pytest.raises(tk.ValidationError) as refused:
        snapshots.clean_label(label)
    assert refused.value.error_dict == {"label": [message]}


def test_a_label_of_200_characters_after_trimming_is_kept():
    assert snapshots.clean_label(" " + "é" * 200 + " ") == "é" * 200


def test_an_unknown_snapshot_is_not_found(portal):
    with pytest.raises(tk.ObjectNotFound):
        snapshots.show("00000000-0000-0000-0000-000000000000")
    with pytest.raises(tk.ObjectNotFound):
        snapshots.compare("nope")


def test_the_cli_takes_lists_shows_and_compares_snapshots(cli, portal):
    from ckan.cli.cli import ckan

    taken = cli.invoke(ckan, ["communes", "bilan", "snapshot", "--label", "Bilan phase 1"])
    assert taken.exit_code == 0, taken.output
    snapshot_id = taken.output.split("\t")[0]
    stored = snapshots.get(snapshot_id)
    assert stored.label == "Bilan phase 1"
    assert stored.created_by == helpers.call_action("get_site_user")["name"]

    listed = cli.invoke(ckan, ["communes", "bilan", "list"])
    assert listed.exit_code == 0 and snapshot_id in listed.output and "1 snapshot(s)." in listed.output

    shown = cli.invoke(ckan, ["communes", "bilan", "show", snapshot_id, "--group-by", "phase"])
    assert shown.exit_code == 0, shown.output
    assert [row["key"] for row in json.loads(shown.output)["rows"]] == list(expected.GROUP_VALUES)
    as_csv = cli.invoke(ckan, ["communes", "bilan", "show", snapshot_id, "--format", "csv"])
    lines = as_csv.output.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Code;Nom;Type;") and len(lines) == 59
    assert any(line.startswith("69029;Bron;Commune;Phase 1 (pilote);;oui;3;2;1;0,6667;60,0;55,0;")
               for line in lines), lines[:5]

    make_b2_compliant(portal)
    compared = cli.invoke(ckan, ["communes", "bilan", "compare", snapshot_id])
    assert compared.exit_code == 0, compared.output
    assert "69029\tBron\tlicence_compliant_share: 0.6667 -> 1.0" in compared.output
    assert "1 row(s) changed." in compared.output


def test_the_cli_refuses_a_bad_label_and_an_unknown_snapshot(cli, portal):
    from ckan.cli.cli import ckan

    refused = cli.invoke(ckan, ["communes", "bilan", "snapshot", "--label", "x" * 201])
    assert refused.exit_code == 1
    assert "200 caractères au plus" in refused.output
    assert snapshots.list_snapshots() == []
    missing = cli.invoke(ckan, ["communes", "bilan", "show", "nope"])
    assert missing.exit_code == 1 and "introuvable" in missing.output
