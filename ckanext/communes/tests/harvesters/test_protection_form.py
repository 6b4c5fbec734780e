"""The dataset and resource forms as commune staff use them (logged in, posting the form's CSRF token): a
change to what the harvest provides brings the form back with the refusal in French, naming the source and
the fields, and what was typed still in the form; not CKAN's bare « Unauthorized to read package » page.
The form posted back unchanged but for a field the source leaves empty is saved, repeating sub-fields (a
contact point, a period) included. The action API keeps its 403 (test_protection_routes.py).

One harvest for the module: a catalogue of the Métropole listing one dataset of Bron with a contact point,
a period, keywords and a distribution (fixtures/protection/bron-form.ttl)."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import lxml.html
import pytest
from ckan import model
from ckan.tests import factories, helpers
from werkzeug.datastructures import MultiDict

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.tests.communes.conftest import make_people, write_communes_csv
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
SOURCE_TITLE = "Catalogue de la Métropole (formulaire)"
NAMES_THE_SOURCE = f"moissonné depuis la source « {SOURCE_TITLE} »"
ALLOW_PRIVATE = "ckanext.communes.fetch.allow_private_addresses"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, _source_server_instance: Any) -> dict[str, Any]:
    from ckan.common import config

    from ckanext.communes.tests.conftest import module_database

    server = _source_server_instance
    server.reset()
    base = server.url("/").rstrip("/")
    server.serve("/protection/bron-form.ttl", (FIXTURES / "protection" / "bron-form.ttl").read_text(encoding="utf-8")
                 .replace("{base}", base))
    allowed = config.get(ALLOW_PRIVATE)
    config[ALLOW_PRIVATE] = True
    try:
        with module_database():
            seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("communes") / "c.csv", COMMUNES)))
            people = make_people()
            editor = factories.User(password=PASSWORD)
            helpers.call_action("organization_member_create", context={"ignore_auth": True}, id="bron",
                                username=editor["name"], role="editor")
            source = helpers.call_action(
                "harvest_source_create", context={"user": people.sysadmin["name"]}, name="catalogue-formulaire",
                title=SOURCE_TITLE, url=server.url("/protection/bron-form.ttl"), source_type="communes_dcat",
                owner_org="metropole-de-lyon", config=json.dumps({"max_withdraw_percent": 100}))
            jobs.run_source(source["id"])
            dataset = harvested(source["id"])["Arbres d'alignement de Bron"]
    finally:
        config[ALLOW_PRIVATE] = allowed
        server.reset()
    assert dataset["organization"]["name"] == "bron"
    # What the form shows as repeating sub-fields comes from the source: the form must post them back as such.
    assert dataset["contact"][0]["name"] == "Service espaces verts" and dataset["temporal_coverage"], dataset
    return {"editor": editor, "dataset": dataset}


def _log_in(app: Any, name: str) -> None:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', app.get("/user/login").body)
    assert token, "the login page has no CSRF token"
    app.post("/user/login", data={"login": name, "password": PASSWORD, "_csrf_token": token.group(1)})
    assert name in app.get("/dashboard/datasets").body


def _form(body: str, form_id: str) -> Any:
    [form] = lxml.html.fromstring(body).xpath(f'//form[@id="{form_id}"]')
    return form


def _posted(form: Any, **changes: str) -> MultiDict:
    """The form's fields as a browser posts them (its CSRF token included), some changed, and its button."""
    fields = [(key, changes.get(key, value)) for key, value in form.form_values()]
    assert {key for key, _value in fields} >= set(changes), "a field to change is not in the form"
    assert "_csrf_token" in {key for key, _value in fields}
    return MultiDict([*fields, ("save", "")])


def _filled(value: Any) -> Any:
    """Repeating sub-fields without their blank keys (the form saves its hidden ones as "")."""
    return [{k: v for k, v in item.items() if v} for item in value or []]


def _snapshot(dataset_id: str) -> dict[str, Any]:
    model.Session.expire_all()
    shown = helpers.call_action("package_show", id=dataset_id)
    return {key: shown.get(key) for key in ("title", "notes", "tags", "url", "metadata_modified")} | {
        "contact": _filled(shown.get("contact")), "temporal_coverage": _filled(shown.get("temporal_coverage")),
        "resources": [(r["name"], r["url"]) for r in shown["resources"]]}


def test_a_refused_change_brings_the_form_back_in_french_naming_the_source_and_fields_with_what_was_typed(
        app: Any, portal: dict[str, Any]) -> None:
    dataset = portal["dataset"]
    before = _snapshot(dataset["id"])
    _log_in(app, portal["editor"]["name"])
    form = _form(app.get(f"/dataset/edit/{dataset['name']}", status=200).body, "dataset-edit")
    typed = {"title": "Arbres de Bron (titre tapé)", "notes": "Une description tapée par la commune.",
             "url": "https://www.ville-bron.fr/arbres-tapee"}
    response = app.post(f"/dataset/edit/{dataset['name']}", data=_posted(form, **typed), follow_redirects=False)

    assert response.status_code == 200, response.status_code  # the form again, not a 403 page
    page = lxml.html.fromstring(response.body)
    text = " ".join(page.text_content().split())
    assert NAMES_THE_SOURCE in text, text[:2000]
    assert "Unauthorized" not in text and "Non autorisé" not in text
    # The list of the form's errors names the source and the refused fields by their labels; not the landing
    # page, which the source leaves empty.
    [summary] = page.xpath('//*[contains(@class, "error-explanation")]')
    summary_text = " ".join(summary.text_content().split())
    assert "Source de moissonnage" in summary_text and NAMES_THE_SOURCE in summary_text, summary_text
    assert "refusé ici : Titre, Description." in summary_text, summary_text
    # Everything typed is still in the form, and each refused field says why under it.
    form = _form(response.body, "dataset-edit")
    assert form.xpath('.//input[@name="title"]/@value') == [typed["title"]]
    assert form.xpath('.//textarea[@name="notes"]')[0].text == typed["notes"]
    assert form.xpath('.//input[@name="url"]/@value') == [typed["url"]]
    for field in ("title", "notes"):
        errors = form.xpath(f'.//*[@name="{field}"]/ancestor::div[contains(@class, "form-group")][1]'
                            '//*[contains(@class, "error-block")]')
        assert errors and SOURCE_TITLE in errors[0].text_content(), field
    assert _snapshot(dataset["id"]) == before  # nothing saved


def test_the_form_posted_back_with_only_what_the_source_left_empty_changed_is_saved(
        app: Any, portal: dict[str, Any]) -> None:
    """The contact point and the period come from the source: the form posts them as sub-fields
    (contact-0-name…), which are the same values, not a change."""
    dataset = portal["dataset"]
    before = _snapshot(dataset["id"])
    _log_in(app, portal["editor"]["name"])
    form = _form(app.get(f"/dataset/edit/{dataset['name']}", status=200).body, "dataset-edit")
    assert form.xpath('.//input[@name="contact-0-name"]/@value') == ["Service espaces verts"]
    response = app.post(f"/dataset/edit/{dataset['name']}",
                        data=_posted(form, url="https://www.ville-bron.fr/arbres-formulaire"), follow_redirects=False)
    assert response.status_code == 302, " ".join(lxml.html.fromstring(response.body).text_content().split())[:2000]
    after = _snapshot(dataset["id"])
    assert after["url"] == "https://www.ville-bron.fr/arbres-formulaire"
    unchanged = ("title", "notes", "tags", "contact", "temporal_coverage", "resources")
    assert {key: after[key] for key in unchanged} == {key: before[key] for key in unchanged}


def test_a_refused_resource_edit_brings_the_resource_form_back_in_french(app: Any, portal: dict[str, Any]) -> None:
    dataset = portal["dataset"]
    resource = dataset["resources"][0]
    before = _snapshot(dataset["id"])
    _log_in(app, portal["editor"]["name"])
    path = f"/dataset/{dataset['name']}/resource/{resource['id']}/edit"
    form = _form(app.get(path, status=200).body, "resource-edit")
    response = app.post(path, data=_posted(form, name="Arbres (nom tapé)"), follow_redirects=False)
    assert response.status_code == 200, response.status_code
    text = " ".join(lxml.html.fromstring(response.body).text_content().split())
    assert NAMES_THE_SOURCE in text and "refusé ici : Ressources." in text, text[:2000]
    assert _form(response.body, "resource-edit").xpath('.//input[@name="name"]/@value') == ["Arbres (nom tapé)"]
    assert _snapshot(dataset["id"]) == before
