"""A harvest source (a dataset of type "harvest": its URL and configuration) is seen by the programme's
operators and the members of its organisation only, on every route: search (with hostile ``q``, ``fq``,
``fq_list``), the dataset lists, autocomplete, organisation and group pages, every activity stream and
activity detail, the DCAT catalogues and the pages. Private datasets stay as CKAN hides them.

One portal for the module (module_database): two sources (Bron's, Lyon's), a private and a public dataset
of Bron, a group holding Bron's source; every logged-in role follows everything. The tests only read it
(the relabelling test puts back what it changes).
"""

from __future__ import annotations

import html
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.tests.communes.conftest import FEW, ROLES, make_people, write_communes_csv

CLOSED_URL = "http://127.0.0.1:9/"
# Who may read what (communes/conftest.py's people: the commune staff are Bron's, other_admin Lyon's).
READERS = {
    "src_bron": {"sysadmin", "operator", "commune_admin", "commune_editor"},
    "src_lyon": {"sysadmin", "operator", "other_admin"},
    # CKAN's rule, unchanged: the members of the organisation (an operator is no member of Bron).
    "private_bron": {"sysadmin", "commune_admin", "commune_editor"},
    "public_bron": set(ROLES),
}
SOURCES = ("src_bron", "src_lyon")
HIDDEN_KEYS = ("src_bron", "src_lyon", "private_bron")


@dataclass
class Portal:
    tokens: dict[str, str | None]
    users: dict[str, dict[str, Any]]
    things: dict[str, dict[str, Any]]  # key -> package dict
    markers: dict[str, list[str]]  # key -> strings that must not appear in an answer to a non-reader
    group: dict[str, Any]
    activities: dict[str, str] = field(default_factory=dict)  # key -> id of its latest "changed package"

    def hidden_from(self, role: str) -> list[str]:
        return [key for key in HIDDEN_KEYS if role not in READERS[key]]

    def visible_to(self, role: str, keys: tuple[str, ...] = HIDDEN_KEYS) -> list[str]:
        return [key for key in keys if role in READERS[key]]


def _source(operator: str, sysadmin: str, owner: str, tag: str) -> dict[str, Any]:
    name = f"src-{tag}-{uuid.uuid4().hex[:8]}"
    context = {"user": operator}
    source = helpers.call_action(
        "harvest_source_create", context=context, name=name, title=f"Source secrète {tag}",
        url=f"{CLOSED_URL}leak-{tag}-{uuid.uuid4().hex[:8]}", source_type="communes_dcat", owner_org=owner,
        frequency="MANUAL", config=json.dumps({"max_withdraw_percent": 37}))
    # A "changed package" activity (with the whole source dict) by a person, not the hidden site user.
    # (By a sysadmin; an operator's edit is recorded too: tests/harvesters/test_source_edges.py.)
    helpers.call_action("package_patch", context={"user": sysadmin}, id=source["id"], notes="modifiée")
    return source


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("communes") / "few.csv", FEW)))
        people = make_people()
        users = {role: getattr(people, role) for role in ROLES if role != "anonymous"}
        sysadmin, operator, editor = (users[r]["name"] for r in ("sysadmin", "operator", "commune_editor"))
        things = {"src_bron": _source(operator, sysadmin, "bron", "bron"),
                  "src_lyon": _source(operator, sysadmin, "lyon", "lyon")}
        for key, private in (("private_bron", True), ("public_bron", False)):
            name = f"{key.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
            dataset = helpers.call_action(
                "package_create", context={"user": editor}, name=name,
                title=f"Jeu {key}", notes="n", owner_org="bron", theme=["ENVI"], private=private)
            helpers.call_action("package_patch", context={"user": editor}, id=dataset["id"], notes="modifié")
            things[key] = dataset
        group = helpers.call_action("group_create", context={"user": sysadmin},
                                    name="thematique-" + uuid.uuid4().hex[:6])
        for key in ("src_bron", "private_bron", "public_bron"):
            helpers.call_action("member_create", context={"user": sysadmin}, id=group["id"],
                                object=things[key]["id"], object_type="package", capacity="public")
        # Every logged-in role follows everything: its dashboard then holds whatever it may see.
        for role, user in users.items():
            context = {"user": user["name"]}
            for key in things:
                helpers.call_action("follow_dataset", context=context, id=things[key]["id"])
            for org in ("bron", "lyon"):
                helpers.call_action("follow_group", context=context, id=org)
            if role not in ("operator", "commune_editor"):
                for followed in (operator, editor):
                    helpers.call_action("follow_user", context=context, id=followed)
        markers = {key: [things[key]["id"], things[key]["name"]] for key in things}
        for key in SOURCES:
            markers[key].append(things[key]["url"])
        activities = {
            key: helpers.call_action("package_activity_list", context={"user": sysadmin},
                                     id=things[key]["id"])[0]["id"]
            for key in HIDDEN_KEYS}
        tokens = {role: factories.APIToken(user=user["name"])["token"] for role, user in users.items()}
        tokens["anonymous"] = None
        return Portal(tokens, users, things, markers, group, activities)


def _headers(portal: Portal, role: str) -> dict[str, str]:
    token = portal.tokens[role]
    return {"Authorization": token} if token else {}


def _api(app: Any, portal: Portal, role: str, action: str, data: dict[str, Any]) -> Any:
    return app.post(f"/api/3/action/{action}", json=data, headers=_headers(portal, role))


def _page(app: Any, portal: Portal, role: str, url: str) -> Any:
    return app.get(url, headers=_headers(portal, role), follow_redirects=False)


def assert_nothing_hidden_in(text: str, portal: Portal, role: str, where: str) -> None:
    """No id, name or URL of what the role may not read in ``text``, but those ``where`` (the request) gave:
    a refusal may repeat what was asked."""
    leaks = [(key, marker) for key in portal.hidden_from(role) for marker in portal.markers[key]
             if marker in text and marker not in where]
    assert not leaks, f"{role} reads {leaks} in {where}"
    if role not in READERS["src_bron"] and role not in READERS["src_lyon"]:
        assert "max_withdraw_percent" not in text, f"{role} reads a source configuration in {where}"


# --------------------------------------------------------------------------------------- search: injection

HARVEST = "dataset_type:harvest"
HOSTILE_SEARCHES: list[dict[str, Any]] = [
    {"fq": f"{HARVEST} OR"},
    {"fq": f"{HARVEST} OR", "fq_list": [HARVEST]},
    {"fq": f"{HARVEST} OR", "fq_list": [HARVEST], "include_private": True},
    {"fq": f"{HARVEST} OR (", "fq_list": [HARVEST]},
    {"fq": f"{HARVEST} OR )", "fq_list": [HARVEST]},
    {"fq": f"{HARVEST}) OR (*:*", "fq_list": [HARVEST]},
    {"fq": f"({HARVEST} OR", "fq_list": [HARVEST]},
    {"fq": "NOT dataset_type:dataset OR", "fq_list": [HARVEST]},
    {"fq": "*:* OR", "fq_list": [f"*:* OR {HARVEST}"]},
    {"fq": f"{HARVEST} OR owner_org:* OR capacity:private OR", "include_private": True},
    {"fq": f"+state:* {HARVEST} OR", "include_private": True, "include_drafts": True},
    {"fq": "{!lucene q.op=OR}dataset_type:harvest", "fq_list": [HARVEST]},
    {"fq_list": ["{!lucene}*:*", HARVEST]},
    {"fq_list": [f"{HARVEST} OR", ")"]},
    {"fq_list": [f"{{!lucene q.op=OR}}{HARVEST} OR"]},
    {"fq_list": [f"{{!tag=x}}{HARVEST}"]},
    {"q": f"{HARVEST} OR", "fq_list": [HARVEST]},
    {"q": "*:*", "fq": f"{HARVEST} OR", "include_private": True},
    {"q": ") OR (*:*", "fq_list": [HARVEST]},
    {"q": "{!lucene}*:*", "fq_list": [HARVEST]},
    {"q": f"NOT name:zzz OR {HARVEST}", "include_private": True},
    {"q": "name:src-*", "fq": "dataset_type:*"},
    {"q": "*:*", "fq": "*:*", "fq_list": ["*:*"], "include_private": True, "include_drafts": True},
    {"q": "*:*", "fq": "-x:y OR", "defType": "lucene", "include_private": True},
    # Questions Solr answers from the whole index, before any filter.
    {"facet.field": ["name", "url", "title"], "facet.mincount": 0, "facet.limit": -1, "rows": 0},
    {"facet.field": '["name", "url"]', "facet.mincount": "-1", "rows": 0, "include_private": True},
]
# Each would confirm a guessed source name or URL (index statistics): refused, naming the parameter.
INDEX_ORACLES: list[tuple[str, dict[str, Any]]] = [
    ("fl", {"fl": ["name", "docfreq(name,'{name}')"]}),
    ("fl", {"fl": "name,ttf(url,'{url}')"}),
    ("fl", {"fl": ["name", "[explain style=nl]"], "q": "name:{name}"}),
    ("sort", {"sort": "docfreq(name,'{name}') desc"}),
    ("sort", {"sort": "sum(0,numdocs()) asc"}),
    ("bf", {"bf": "docfreq(url,'{url}')", "q": "jeu"}),
    ("boost", {"boost": "idf(name,'{name}')", "defType": "edismax", "q": "jeu"}),
    ("defType", {"defType": "func", "q": "docfreq(url,'{url}')", "fl": ["name", "score"]}),
]


def check_hostile_searches(app: Any, portal: Portal, role: str) -> None:
    """Hostile q, fq, fq_list never reveal a source or a private dataset."""
    for search in HOSTILE_SEARCHES:
        response = _api(app, portal, role, "package_search", {**search, "rows": 1000})
        assert response.status_code in (200, 400, 409), (search, response.status_code, response.body[:300])
        assert_nothing_hidden_in(response.body, portal, role, f"package_search {search}")
    source = portal.things["src_bron"]
    for parameter, search in INDEX_ORACLES:
        search = {key: (value.format(name=source["name"], url=source["url"]) if isinstance(value, str) else
                        [item.format(name=source["name"], url=source["url"]) for item in value])
                  for key, value in search.items()}
        response = _api(app, portal, role, "package_search", {**search, "rows": 5})
        assert response.status_code == 409, (search, response.status_code, response.body[:300])
        assert parameter in response.json["error"], response.json


def check_source_search(app: Any, portal: Portal, role: str) -> None:
    """The control of the check above: what may be read is found."""
    response = _api(app, portal, role, "package_search",
                    {"fq": HARVEST, "rows": 1000, "include_private": True})
    found = {d["id"] for d in response.json["result"]["results"]}
    assert found == {portal.things[k]["id"] for k in portal.visible_to(role, SOURCES)}
    # Even an injected filter of the role's own cannot widen it, nor narrow another role's view.
    response = _api(app, portal, role, "package_search",
                    {"fq": f"{HARVEST} OR", "fq_list": [HARVEST], "rows": 1000, "include_private": True})
    assert {d["id"] for d in response.json["result"]["results"]} == found


# --------------------------------------------------------------------------------------- lists, autocomplete

def check_lists(app: Any, portal: Portal, role: str) -> None:
    """The dataset lists and autocomplete name only the sources the role may read."""
    names = _api(app, portal, role, "package_list", {}).json["result"]
    for key in SOURCES:
        assert (portal.things[key]["name"] in names) == (role in READERS[key]), (role, key)
    assert portal.things["public_bron"]["name"] in names
    assert_nothing_hidden_in(json.dumps(names), portal, role, "package_list")
    for prefix in ("src", "src-", "leak", "Source", "secr", "prive", "private"):
        response = _api(app, portal, role, "package_autocomplete", {"q": prefix, "limit": 100})
        assert response.status_code == 200
        assert_nothing_hidden_in(response.body, portal, role, f"package_autocomplete {prefix}")
    answers = {
        "current_package_list_with_resources": {"limit": 1000},
        "organization_show": {"id": "bron", "include_datasets": True},
        "group_show": {"id": portal.group["id"], "include_datasets": True},
        "group_package_show": {"id": portal.group["id"], "limit": 1000},
        "user_show": {"id": portal.users["operator"]["id"], "include_datasets": True},
        "organization_list": {"all_fields": True, "include_dataset_count": True},
        "member_list": {"id": portal.group["id"], "object_type": "package"},
    }
    for action, data in answers.items():
        response = _api(app, portal, role, action, data)
        assert response.status_code == 200, (action, response.body[:300])
        assert_nothing_hidden_in(response.body, portal, role, f"{action} {data}")
    # member_list: the group's datasets the role may read, and only those (CKAN listed them all).
    members = {m[0] for m in _api(app, portal, role, "member_list", {"id": "bron"}).json["result"]}
    for key in ("src_bron", "private_bron", "public_bron"):
        assert (portal.things[key]["id"] in members) == (role in READERS[key]), (role, key)


# --------------------------------------------------------------------------------------- activity streams

def _activity_objects(response: Any) -> set[str]:
    return {activity["object_id"] for activity in response.json["result"]}


def check_activity_streams(app: Any, portal: Portal, role: str) -> None:
    """Every activity stream shows sources and private datasets to their readers only."""
    ids = {key: portal.things[key]["id"] for key in portal.things}
    streams: dict[str, tuple[str, dict[str, Any]]] = {
        "recently changed": ("recently_changed_packages_activity_list", {"limit": 100}),
        "Bron": ("organization_activity_list", {"id": "bron", "limit": 100}),
        "Lyon": ("organization_activity_list", {"id": "lyon", "limit": 100}),
        "operator": ("user_activity_list", {"id": portal.users["operator"]["id"], "limit": 100}),
        "editor": ("user_activity_list", {"id": portal.users["commune_editor"]["id"], "limit": 100}),
        "group": ("group_activity_list", {"id": portal.group["id"], "limit": 100}),
    }
    if role != "anonymous":
        streams["dashboard"] = ("dashboard_activity_list", {"limit": 100})
    seen: set[str] = set()
    for where, (action, data) in streams.items():
        response = _api(app, portal, role, action, data)
        assert response.status_code == 200, (where, response.body[:300])
        assert_nothing_hidden_in(response.body, portal, role, f"{where} {data}")
        seen |= _activity_objects(response)
    # The control: what the role may read is in its streams (the public dataset for all).
    assert seen & {ids[k] for k in portal.things} == {ids[k] for k in portal.things if role in READERS[k]}
    for key in (*HIDDEN_KEYS, "public_bron"):
        response = _api(app, portal, role, "package_activity_list", {"id": ids[key], "limit": 100})
        assert response.status_code == (200 if role in READERS[key] else 403), (key, response.body[:300])
        assert_nothing_hidden_in(response.body, portal, role, f"package_activity_list {ids[key]}")


def check_activity_details(app: Any, portal: Portal, role: str) -> None:
    """An activity of a source or private dataset is refused to who may not read it."""
    for key in HIDDEN_KEYS:
        activity_id = portal.activities[key]
        for action, data in (
            ("activity_show", {"id": activity_id, "include_data": False}),
            ("activity_show", {"id": activity_id, "include_data": True}),
            ("activity_data_show", {"id": activity_id}),
            ("activity_data_show", {"id": activity_id, "object_type": "package"}),
            ("activity_diff", {"id": activity_id, "object_type": "package"}),
        ):
            response = _api(app, portal, role, action, data)
            if role in READERS[key]:
                # Readers: CKAN's rules (the detail needs the right to edit): never a server error.
                assert response.status_code in (200, 403), (key, action, response.body[:300])
                if role in ("sysadmin", "operator") and key in SOURCES:
                    assert response.status_code == 200, (key, action, response.body[:300])
            else:
                assert response.status_code == 403, (key, action, response.body[:300])
                assert_nothing_hidden_in(response.body, portal, role, f"{action} {data}")


# --------------------------------------------------------------------------------------- DCAT, pages

def check_catalogues(app: Any, portal: Portal, role: str) -> None:
    """The DCAT catalogues never describe a source; its RDF is for its readers."""
    urls = [
        "/catalog.ttl",
        f"/catalog.ttl?fq={HARVEST}+OR",
        f"/catalog.ttl?q={HARVEST}+OR&fq=*:*",
        "/catalog.jsonld?q=*:*&fq=dataset_type:harvest)+OR+(*:*",
        "/catalog.ttl?fq={!lucene}dataset_type:harvest",
        "/communes/69029/catalog.ttl",
        "/communes/69123/catalog.jsonld?page=1",
    ]
    for key in HIDDEN_KEYS:
        urls += [f"/dataset/{portal.things[key]['name']}.ttl", f"/dataset/{portal.things[key]['id']}.jsonld"]
    for url in urls:
        response = _page(app, portal, role, url)
        assert response.status_code < 500, (url, response.status_code)
        assert_nothing_hidden_in(response.get_data(as_text=True), portal, role, url)
    for key in HIDDEN_KEYS:
        response = _page(app, portal, role, f"/dataset/{portal.things[key]['name']}.ttl")
        assert (response.status_code == 200) == (role in READERS[key]), (key, response.status_code)


def check_pages(app: Any, portal: Portal, role: str) -> None:
    """Pages show a source to its readers only."""
    src = portal.things["src_bron"]
    urls = [
        f"/harvest/{src['name']}", f"/harvest/about/{src['name']}", f"/harvest/admin/{src['name']}",
        f"/dataset/{src['name']}", f"/dataset/activity/{src['name']}",
        f"/dataset/{src['name']}/history/{portal.activities['src_bron']}",
        f"/dataset/changes/{portal.activities['src_bron']}",
        f"/dataset/changes/{portal.activities['private_bron']}",
        f"/dataset/{portal.things['public_bron']['name']}/history/{portal.activities['src_bron']}",
        "/organization/activity/bron", "/organization/activity/lyon",
        f"/group/activity/{portal.group['name']}",
        f"/user/activity/{portal.users['operator']['name']}", "/dashboard/",
        "/harvest/", f"/harvest/?q={HARVEST}+OR", "/dataset/?q=src", "/dataset/?q=*:*&dataset_type=harvest",
        '/dataset/?tags=a"+OR+dataset_type:harvest+OR+"', "/organization/bron",
        f"/group/{portal.group['name']}",
        "/feeds/dataset.atom", "/feeds/custom.atom?q=src", "/feeds/custom.atom?q=dataset_type:harvest+OR",
        "/feeds/organization/bron.atom", f"/feeds/group/{portal.group['name']}.atom",
        "/api/2/util/dataset/autocomplete?incomplete=src", "/api/2/util/dataset/autocomplete?incomplete=leak",
    ]
    for url in urls:
        response = _page(app, portal, role, url)
        assert response.status_code < 500, (url, response.status_code)
        assert_nothing_hidden_in(response.get_data(as_text=True), portal, role, url)
    response = _page(app, portal, role, f"/harvest/{src['name']}")
    assert (response.status_code == 200) == (role in READERS["src_bron"]), response.status_code


# --------------------------------------------------------------------------------------- per role

def _failed_checks(app: Any, portal: Portal, role: str, checks: tuple[Any, ...]) -> list[str]:
    """Every check run (one failing does not hide the others), each failure as "check: what leaked"."""
    failures = []
    for check in checks:
        try:
            check(app, portal, role)
        except AssertionError as error:
            failures.append(f"{check.__name__}: {error}")
    return failures


@pytest.mark.parametrize("role", ROLES)
def test_every_api_route_shows_sources_and_private_datasets_only_to_their_readers(app: Any, portal: Portal,
                                                                                  role: str) -> None:
    """One test per role (the checks above in turn): the module's portal is read, never changed."""
    leaks = _failed_checks(app, portal, role, (check_hostile_searches, check_source_search, check_lists,
                                               check_activity_streams, check_activity_details))
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_catalogue_shows_sources_only_to_their_readers(app: Any, portal: Portal,
                                                                      role: str) -> None:
    leaks = _failed_checks(app, portal, role, (check_catalogues, check_pages))
    assert not leaks, "\n".join(leaks)


# --------------------------------------------------------------------------------------- labels kept right

def test_activities_recorded_before_the_rule_are_relabelled(app: Any, portal: Portal) -> None:
    """A portal upgraded with activities labelled "public" (CKAN's default for a public source): the
    migration's relabelling hides them again."""
    from ckanext.activity.model import Activity
    from ckanext.communes.harvesters import visibility

    source_id = portal.things["src_bron"]["id"]
    model.Session.query(Activity).filter(Activity.object_id == source_id).update(
        {"permission_labels": ["public"]}, synchronize_session=False)
    model.Session.commit()
    stream = _api(app, portal, "anonymous", "recently_changed_packages_activity_list", {"limit": 100})
    assert source_id in _activity_objects(stream)  # the failure this repairs
    visibility.relabel_source_activities(model.Session.connection())
    model.Session.commit()
    stream = _api(app, portal, "anonymous", "recently_changed_packages_activity_list", {"limit": 100})
    assert source_id not in _activity_objects(stream)
    stream = _api(app, portal, "commune_editor", "recently_changed_packages_activity_list", {"limit": 100})
    assert source_id in _activity_objects(stream)


# --------------------------------------------------------------------------------------- no 500 on the way

HOSTILE_PAGES = [
    ('/feeds/custom.atom?tags=a"+OR+(', 400),  # CKAN pastes the value between quotes into fq
    ("/catalog.ttl?fq=(", 400),
    ("/catalog.rdf?fq=name:(a+OR", 400),
    ("/catalog.ttl?q=jeu+bron", 400),  # ckanext-dcat writes it unencoded into its Turtle paging links
    ("/catalog.ttl?modified_since=2024-01-01+10:00", 400),
    ("/communes/69029/catalog.ttl?q=%22jeu%22", 400),
    ("/catalog.rdf?q=jeu+bron", 200),  # RDF/XML and JSON-LD write such links
    ("/communes/69029/catalog.jsonld?q=jeu+bron", 200),
    ("/catalog.nt", 404),  # ckanext-dcat: KeyError, and rdflib's PluginException for an unknown format
    ("/catalog.foo", 404),
    ("/organization/bron?q=name:(a+OR", 200),  # CKAN catches the error, then its facet list failed
    ("/dataset/changes_multiple?new_id=x&old_id=y", 404),  # ckanext-activity lets NotFound through
]


def test_hostile_parameters_get_a_4xx_in_french_not_a_500(app: Any, portal: Portal) -> None:
    public = portal.things["public_bron"]["name"]
    source_activity = portal.activities["src_bron"]
    cases = [*HOSTILE_PAGES, (f"/dataset/{public}.nt", 404),
             # Not a reader: ckanext-activity let NotAuthorized through.
             (f"/dataset/changes_multiple?new_id={source_activity}&old_id={source_activity}", 403)]
    for url, status in cases:
        response = _page(app, portal, "anonymous", url)
        assert response.status_code == status, (url, response.get_data(as_text=True)[:300])
        if status == 400:
            text = html.unescape(response.get_data(as_text=True))
            assert "La recherche n'a pas pu être comprise" in text or "invalide :" in text, (url, text[:300])
