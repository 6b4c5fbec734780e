"""A harvested dataset belongs to its source on every route of the action API, not only package_patch of
a field: commune staff cannot delete it, hide it (private, draft), move it to another organisation, nor
change, add, remove or reorder its resources, whatever action they go through; the refusal is a 403 in
French naming the source. Operators may still edit (sysadmins) and detach (then the commune may do all
of it), and the protection never stands in the way of a commune's own datasets.

One harvest for the module: a catalogue of the Métropole listing three datasets of Bron, two
distributions each (fixtures/protection/bron.ttl). Refused calls must change nothing, which each test
checks; the tests that change a dataset each take their own.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import lxml.html
import pytest
from ckan import model
from ckan.tests import factories, helpers
from werkzeug.datastructures import MultiDict

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.tests.communes.conftest import api_post, make_people, write_communes_csv
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES
from ckanext.communes.tests.shared import ENVI

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

SOURCE_TITLE = "Catalogue protégé de la Métropole"
NAMES_THE_SOURCE = f"moissonné depuis la source « {SOURCE_TITLE} »"
ALLOW_PRIVATE = "ckanext.communes.fetch.allow_private_addresses"
# Bron's members (the commune staff), and a member of Bron and Lyon who could move a dataset between them.
STAFF = ("commune_admin", "commune_editor", "bron_and_lyon_editor")
OUTSIDERS = ("other_admin", "anonymous")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, _source_server_instance: Any) -> dict[str, Any]:
    from ckan.common import config

    from ckanext.communes.tests.conftest import module_database

    server = _source_server_instance
    server.reset()
    base = server.url("/").rstrip("/")
    server.serve("/protection/bron.ttl", (FIXTURES / "protection" / "bron.ttl").read_text(encoding="utf-8")
                 .replace("{base}", base))
    allowed = config.get(ALLOW_PRIVATE)
    config[ALLOW_PRIVATE] = True
    try:
        with module_database():
            seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("communes") / "c.csv", COMMUNES)))
            people = make_people()
            both = factories.User()
            for org in ("bron", "lyon"):
                helpers.call_action("organization_member_create", context={"ignore_auth": True}, id=org,
                                    username=both["name"], role="editor")
            source = helpers.call_action(
                "harvest_source_create", context={"user": people.sysadmin["name"]}, name="catalogue-protege",
                title=SOURCE_TITLE, url=server.url("/protection/bron.ttl"), source_type="communes_dcat",
                owner_org="metropole-de-lyon", config=json.dumps({"max_withdraw_percent": 100}))
            jobs.run_source(source["id"])
            datasets = harvested(source["id"])
            own = helpers.call_action(
                "package_create", context={"user": people.commune_editor["name"]}, name="bancs-de-la-commune",
                title="Bancs (saisis par la commune)", notes="Nos bancs.", owner_org="bron", theme=[ENVI],
                license_id="etalab-2.0", resources=[{"url": "https://www.ville-bron.fr/bancs.csv", "name": "A"},
                                                    {"url": "https://www.ville-bron.fr/bancs.json", "name": "B"}])
    finally:
        config[ALLOW_PRIVATE] = allowed
        server.reset()
    assert {d["organization"]["name"] for d in datasets.values()} == {"bron"}
    tokens = {role: people.token(role) for role in ("sysadmin", "operator", "commune_admin", "commune_editor",
                                                      "other_admin")}
    tokens["bron_and_lyon_editor"] = factories.APIToken(user=both["name"])["token"]
    tokens["anonymous"] = None
    return {"people": people, "tokens": tokens, "source": source, "own": own,
            "arbres": datasets["Arbres d'alignement de Bron"], "parcs": datasets["Parcs et jardins de Bron"],
            "bancs": datasets["Bancs publics de Bron"]}


def snapshot(dataset_id: str) -> dict[str, Any]:
    """What a refused call must leave as it was: the dataset's content, state, visibility, owner and its
    resources in order (read from the database, the dataset may be deleted or purged)."""
    model.Session.expire_all()
    package = model.Session.query(model.Package).filter_by(id=dataset_id).one_or_none()
    if package is None:
        return {"purged": True}
    shown = helpers.call_action("package_show", id=dataset_id)
    return {"state": package.state, "private": package.private, "owner_org": package.owner_org,
            "title": shown["title"], "notes": shown["notes"],
            "resources": [(r["id"], r.get("name"), r["url"], r.get("format"), r.get("description"))
                          for r in shown["resources"]]}


# Each route: a call that would delete, hide, move or change the dataset, given the dataset's dict.
Route = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


def _first(dataset: dict[str, Any]) -> dict[str, Any]:
    return dataset["resources"][0]


ROUTES: dict[str, Route] = {
    "package_patch state deleted": lambda d: ("package_patch", {"id": d["id"], "state": "deleted"}),
    "package_patch state draft": lambda d: ("package_patch", {"id": d["id"], "state": "draft"}),
    "package_patch private": lambda d: ("package_patch", {"id": d["id"], "private": True}),
    "package_patch owner_org": lambda d: ("package_patch", {"id": d["id"], "owner_org": "lyon"}),
    "package_patch tag_string": lambda d: ("package_patch", {"id": d["id"], "tag_string": "autre"}),
    "package_update without a field": lambda d: ("package_update", {k: v for k, v in d.items() if k != "theme"}),
    "package_update renamed resource": lambda d: ("package_update", {
        **d, "resources": [{**_first(d), "name": "Renommée"}, *d["resources"][1:]]}),
    "package_update resources reordered": lambda d: ("package_update", {**d, "resources": d["resources"][::-1]}),
    "package_delete": lambda d: ("package_delete", {"id": d["id"]}),
    "package_revise title": lambda d: ("package_revise", {"match": {"id": d["id"]}, "update": {"title": "Révisé"}}),
    "package_revise resource": lambda d: ("package_revise", {"match": {"id": d["id"]},
                                                              "update__resources__0": {"name": "Révisée"}}),
    "package_revise state": lambda d: ("package_revise", {"match": {"id": d["id"]}, "update": {"state": "deleted"}}),
    "resource_create": lambda d: ("resource_create", {"package_id": d["id"], "url": "https://example.org/x.csv"}),
    "resource_update renamed": lambda d: ("resource_update", {**_first(d), "name": "Renommée"}),
    "resource_patch renamed": lambda d: ("resource_patch", {"id": _first(d)["id"], "name": "Renommée"}),
    "resource_patch format": lambda d: ("resource_patch", {"id": _first(d)["id"], "format": "XLS"}),
    "resource_patch url": lambda d: ("resource_patch", {"id": _first(d)["id"], "url": "https://example.org/y.csv"}),
    "resource_delete": lambda d: ("resource_delete", {"id": _first(d)["id"]}),
    "package_resource_reorder": lambda d: ("package_resource_reorder", {
        "id": d["id"], "order": [r["id"] for r in d["resources"][::-1]]}),
    "package_owner_org_update": lambda d: ("package_owner_org_update", {"id": d["id"], "organization_id": "lyon"}),
    "bulk_update_delete": lambda d: ("bulk_update_delete", {"datasets": [d["id"]], "org_id": d["owner_org"]}),
    "bulk_update_private": lambda d: ("bulk_update_private", {"datasets": [d["id"]], "org_id": d["owner_org"]}),
    "dataset_purge": lambda d: ("dataset_purge", {"id": d["id"]}),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_nobody_but_operators_deletes_hides_moves_or_changes_a_harvested_dataset(
        app: Any, portal: dict[str, Any], route: str) -> None:
    dataset = helpers.call_action("package_show", id=portal["arbres"]["id"])
    before = snapshot(dataset["id"])
    action, data = ROUTES[route](dataset)
    for role in STAFF + OUTSIDERS:
        response = api_post(app, action, data, portal["tokens"][role])
        assert response.status_code == 403, (role, response.status_code, response.json)
        if role in STAFF:
            message = response.json["error"]["message"]
            assert NAMES_THE_SOURCE in message, (role, message)
        assert snapshot(dataset["id"]) == before, role


def _edit_form(app: Any, name: str, token: str) -> list[tuple[str, str]]:
    """The dataset form's fields as a browser would post them back."""
    page = lxml.html.fromstring(app.get(f"/dataset/edit/{name}", headers={"Authorization": token}, status=200).body)
    [form] = page.xpath('//form[@id="dataset-edit"]')
    return [*form.form_values(), ("save", "")]


def _with(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(key, value if key == name else old) for key, old in fields]


def test_the_edit_form_is_refused_too_and_still_saves_what_the_source_left_empty(
        app: Any, portal: dict[str, Any]) -> None:
    """The dataset form posts every field (the tags as tag_string): a changed title or tags is refused (the
    form comes back with the refusal: test_protection_form.py); the form posted back as it came, with the
    landing page (which the source leaves empty) filled, is saved."""
    dataset = helpers.call_action("package_show", id=portal["arbres"]["id"])
    token = portal["tokens"]["commune_editor"]
    fields = _edit_form(app, dataset["name"], token)
    before = snapshot(dataset["id"])
    for name, value in (("title", "Titre changé"), ("tag_string", "autre")):
        response = app.post(f"/dataset/edit/{dataset['name']}", data=MultiDict(_with(fields, name, value)),
                            headers={"Authorization": token})
        assert response.status_code == 200, name  # the form again, with the refusal
        assert NAMES_THE_SOURCE in response.body, name
        assert snapshot(dataset["id"]) == before
    response = app.post(f"/dataset/edit/{dataset['name']}",
                        data=MultiDict(_with(fields, "url", "https://www.ville-bron.fr/arbres-formulaire")),
                        headers={"Authorization": token}, follow_redirects=False)
    assert response.status_code == 302, response.status_code
    after = helpers.call_action("package_show", id=dataset["id"])
    assert after["url"] == "https://www.ville-bron.fr/arbres-formulaire"
    unchanged = ("title", "notes", "tags", "theme", "license_id", "frequency", "resources", "state", "private",
                 "owner_org")
    assert {key: after.get(key) for key in unchanged} == {key: dataset.get(key) for key in unchanged}


def test_the_refusal_names_the_fields_and_says_who_can_detach(app: Any, portal: dict[str, Any]) -> None:
    dataset = portal["arbres"]
    response = api_post(app, "resource_patch", {"id": _first(dataset)["id"], "name": "Renommée"},
                        portal["tokens"]["commune_editor"], status=403)
    message = response.json["error"]["message"]
    assert "resources" in message and "opérateur" in message, message
    response = api_post(app, "package_patch", {"id": dataset["id"], "state": "deleted", "private": True},
                        portal["tokens"]["commune_admin"], status=403)
    message = response.json["error"]["message"]
    assert "state" in message and "private" in message, message


def test_commune_staff_still_fill_what_the_source_left_empty_through_each_route(
        app: Any, portal: dict[str, Any]) -> None:
    """The landing page of the dataset, and a field the source leaves empty on a resource."""
    dataset = portal["arbres"]
    token = portal["tokens"]["commune_editor"]
    api_post(app, "package_revise", {"match": {"id": dataset["id"]}, "update": {"url": "https://www.ville-bron.fr/a"}},
             token, status=200)
    resource = helpers.call_action("package_show", id=dataset["id"])["resources"][1]
    assert not resource.get("description")
    api_post(app, "resource_patch", {"id": resource["id"], "description": "Géolocalisation des arbres."}, token,
             status=200)
    after = helpers.call_action("package_show", id=dataset["id"])
    assert after["url"] == "https://www.ville-bron.fr/a"
    assert after["resources"][1]["description"] == "Géolocalisation des arbres."


def test_a_sysadmin_may_still_change_a_harvested_dataset_through_every_route(app: Any, portal: dict[str, Any]) -> None:
    dataset = helpers.call_action("package_show", id=portal["parcs"]["id"])
    token = portal["tokens"]["sysadmin"]
    first, second = dataset["resources"]
    api_post(app, "resource_patch", {"id": first["id"], "name": "Parcs (tableur)"}, token, status=200)
    api_post(app, "package_resource_reorder", {"id": dataset["id"], "order": [second["id"], first["id"]]}, token,
             status=200)
    api_post(app, "package_patch", {"id": dataset["id"], "private": True}, token, status=200)
    api_post(app, "package_owner_org_update", {"id": dataset["id"], "organization_id": "lyon"}, token, status=200)
    after = helpers.call_action("package_show", id=dataset["id"])
    assert [r["name"] for r in after["resources"]] == ["Parcs (GeoJSON)", "Parcs (tableur)"]
    assert (after["private"], after["organization"]["name"]) == (True, "lyon")
    api_post(app, "package_delete", {"id": dataset["id"]}, token, status=200)
    assert snapshot(dataset["id"])["state"] == "deleted"


def test_an_operator_detaches_and_commune_staff_may_then_do_everything(app: Any, portal: dict[str, Any]) -> None:
    dataset = helpers.call_action("package_show", id=portal["bancs"]["id"])
    editor = portal["tokens"]["commune_editor"]
    first, second = dataset["resources"]
    api_post(app, "resource_patch", {"id": first["id"], "name": "Bancs (tableur)"}, editor, status=403)
    api_post(app, "communes_harvest_detach", {"id": dataset["id"]}, portal["tokens"]["operator"], status=200)
    api_post(app, "resource_patch", {"id": first["id"], "name": "Bancs (tableur)"}, editor, status=200)
    api_post(app, "package_resource_reorder", {"id": dataset["id"], "order": [second["id"], first["id"]]}, editor,
             status=200)
    api_post(app, "resource_delete", {"id": second["id"]}, editor, status=200)
    api_post(app, "package_patch", {"id": dataset["id"], "private": True}, editor, status=200)
    api_post(app, "bulk_update_delete", {"datasets": [dataset["id"]], "org_id": dataset["owner_org"]},
             portal["tokens"]["commune_admin"], status=200)
    after = snapshot(dataset["id"])
    assert (after["state"], after["private"]) == ("deleted", True)
    assert [resource[1] for resource in after["resources"]] == ["Bancs (tableur)"]


def test_the_protection_leaves_a_communes_own_datasets_alone(app: Any, portal: dict[str, Any]) -> None:
    own = helpers.call_action("package_show", id=portal["own"]["id"])
    editor, admin = portal["tokens"]["commune_editor"], portal["tokens"]["commune_admin"]
    first, second = own["resources"]
    api_post(app, "resource_patch", {"id": first["id"], "name": "A (renommée)"}, editor, status=200)
    api_post(app, "package_resource_reorder", {"id": own["id"], "order": [second["id"], first["id"]]}, editor,
             status=200)
    api_post(app, "resource_create", {"package_id": own["id"], "url": "https://www.ville-bron.fr/c.csv"}, editor,
             status=200)
    api_post(app, "package_revise", {"match": {"id": own["id"]}, "update": {"title": "Bancs (révisé)"}}, editor,
             status=200)
    api_post(app, "bulk_update_private", {"datasets": [own["id"]], "org_id": own["owner_org"]}, admin, status=200)
    api_post(app, "package_delete", {"id": own["id"]}, editor, status=200)
    after = snapshot(own["id"])
    assert (after["state"], after["private"], after["title"]) == ("deleted", True, "Bancs (révisé)")

