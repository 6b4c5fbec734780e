"""Hostile files given to the loader end as a French error on the resource page, never a 500 and never a
half-loaded table presented as complete; or, where the file is merely awkward, as a correct table."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.dataapi import loader_guard
from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset, load, set_max_bytes

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader", "allow_private_addresses")]


@pytest.fixture
def people(bron: dict[str, Any], bron_editor: dict[str, Any]) -> Any:
    """Bron and its editor (one organisation: lighter than the seeded communes of the permission tests)."""

    class People:
        commune_editor = bron_editor

        @staticmethod
        def token(role: str) -> str:
            return factories.APIToken(user=bron_editor["name"])["token"]

    return People


def _load(people: Any, source_server: Any, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    dataset = create_dataset(_bron_id(), source_server.url(path), user=people.commune_editor["name"])
    return dataset, load(dataset["resources"][0]["id"])


def _bron_id() -> str:
    from ckan import model

    return model.Group.get("bron").id


def _page_error(app: Any, people: Any, dataset: dict[str, Any]) -> str:
    page = app.get(f"/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}",
                   headers={"Authorization": people.token("commune_editor")})
    assert page.status_code == 200
    match = re.search(r'<div class="alert alert-danger communes-datastore-error"[^>]*>(.*?)</div>', page.body, re.S)
    assert match, "no DataStore error on the resource page"
    text = html.unescape(match.group(1)).strip()
    assert text.startswith("Les données de cette ressource n’ont pas pu être chargées dans le DataStore : "), text
    return text


def _nothing_loaded(dataset: dict[str, Any]) -> None:
    resource_id = dataset["resources"][0]["id"]
    assert helpers.call_action("resource_show", id=resource_id)["datastore_active"] is False
    with pytest.raises(helpers.logic.NotFound):
        helpers.call_action("datastore_search", resource_id=resource_id)


def test_a_latin_1_file_is_loaded_with_its_accents_right(people, source_server):
    body = "nom;quartier\nGymnase Jean Jaurès;Terraillon\nPiscine Hélène Boucher;Parilly\nÉcole élémentaire;Centre\n"
    source_server.serve("/equipements.csv", body.encode("latin-1"), content_type="text/csv")
    dataset, status = _load(people, source_server, "/equipements.csv")
    assert status["status"] == "complete", status
    records = helpers.call_action("datastore_search", resource_id=dataset["resources"][0]["id"],
                                  sort="nom asc")["records"]
    assert [r["nom"] for r in records] == ["Gymnase Jean Jaurès", "Piscine Hélène Boucher", "École élémentaire"]
    assert records[1]["quartier"] == "Parilly"


def test_an_endless_line_is_cut_at_the_size_limit_and_nothing_is_loaded(app, people, source_server, ckan_config,
                                                                       monkeypatch):
    """« A 1 GB line »: streamed, never held in memory, stopped at the limit (1 MB here), no excerpt loaded."""
    set_max_bytes(ckan_config, monkeypatch, 1024 * 1024)
    source_server.infinite("/ligne.csv", content_type="text/csv", chunk=b"a," * 32768)
    dataset, status = _load(people, source_server, "/ligne.csv")
    assert status["status"] == "error"
    assert "dépasse la limite de 1048576 octets ; rien n’en a été chargé" in _page_error(app, people, dataset)
    _nothing_loaded(dataset)


def test_a_file_declaring_a_length_over_the_limit_is_refused_before_its_body(app, people, source_server,
                                                                            ckan_config, monkeypatch):
    set_max_bytes(ckan_config, monkeypatch, 1024)
    source_server.serve("/gros.csv", "nom\n" + "x" * 5000 + "\n", content_type="text/csv")
    dataset, status = _load(people, source_server, "/gros.csv")
    assert status["status"] == "error"
    assert "dépasse la limite de 1024 octets" in _page_error(app, people, dataset)
    _nothing_loaded(dataset)


def test_formula_cells_are_stored_as_the_text_they_are_and_never_evaluated(people, source_server):
    body = ('nom,formule\n"Stade","=cmd|\' /C calc\'!A0"\n"Piscine","+SUM(1+1)*cmd|\' /C calc\'!A0"\n'
            '"Gymnase","@SUM(1+1)"\n"Dojo","-2+3"\n')
    source_server.serve("/formules.csv", body, content_type="text/csv")
    dataset, status = _load(people, source_server, "/formules.csv")
    assert status["status"] == "complete", status
    result = helpers.call_action("datastore_search", resource_id=dataset["resources"][0]["id"], sort="_id asc")
    assert {f["id"]: f["type"] for f in result["fields"]}["formule"] == "text"
    assert [r["formule"] for r in result["records"]] == [
        "=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_a_table_of_10000_columns_is_refused_in_french_and_nothing_is_loaded(app, people, source_server):
    header = ",".join(f"c{i}" for i in range(10000))
    row = ",".join("1" for _ in range(10000))
    source_server.serve("/large.csv", f"{header}\n{row}\n", content_type="text/csv")
    dataset, status = _load(people, source_server, "/large.csv")
    assert status["status"] == "error"
    text = _page_error(app, people, dataset)
    assert f"le tableau a 10000 colonnes, plus que les {loader_guard.MAX_COLUMNS} qu’accepte le DataStore" in text
    _nothing_loaded(dataset)


def test_an_html_page_named_csv_is_refused_in_french_and_nothing_is_loaded(app, people, source_server):
    page = "<!DOCTYPE html>\n<html><head><title>Connexion</title></head><body><form>…</form></body></html>\n"
    source_server.serve("/export.csv", page, content_type="text/csv")
    dataset, status = _load(people, source_server, "/export.csv")
    assert status["status"] == "error"
    assert "le fichier est une page web (HTML), pas un tableau" in _page_error(app, people, dataset)
    _nothing_loaded(dataset)


def test_a_server_error_is_explained_in_french(app, people, source_server):
    source_server.fail("/absent.csv", status=404, body="not found")
    dataset, status = _load(people, source_server, "/absent.csv")
    assert status["status"] == "error"
    assert "le serveur a répondu HTTP 404" in _page_error(app, people, dataset)
    _nothing_loaded(dataset)
