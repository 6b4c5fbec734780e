"""No action of the portal acts without asking its authorisation function, whoever wrote it.

The registry walked is CKAN's, once every plugin of the portal is loaded: CKAN's own actions,
ckanext-harvest's, ckanext-dcat's, ckanext-scheming's, the activity plugin's and ours, chained or not.
CKAN's auth audit (an action that never calls ``check_access`` raises) is off for every action a plugin
registers ("Extensions are exempted from the auth audit for now", ckan/logic/__init__.py) and for any
function flagged ``auth_audit_exempt``: ckanext-harvest's ``harvest_source_reindex`` thus answered an
anonymous GET and reindexed a source (flushing the bilan's cache) for anyone, in a loop if they liked.
These tests put the audit back for all of them:

- every action whose name says it writes answers POST only (not ``side_effect_free``: a GET from a
  logged-in browser, an ``<img>`` tag on any site, would run it with the visitor's cookie);
- every state-changing action refuses an anonymous caller and a commune editor whose data point at
  another's objects (another commune's dataset, the commune's own harvest source, another user), over
  HTTP; the exceptions are written below, each with its reason;
- every action, called anonymously, consults its own authorisation function (as CKAN's audit would) or
  is listed with the reason it does not; none is ``auth_audit_exempt`` without a written reason;
- no authorisation function of a state-changing action, and none of ours, lets anonymous users through
  without a written reason.

A new action (ours, or one a new version of an extension brings) fails here until it refuses, or until
someone writes down why it need not.
"""

from __future__ import annotations

import copy
import io
import re
import sys
from collections.abc import Callable
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import pytest
from ckan import authz, logic, model
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.tests.communes.conftest import FEW, api_post, make_people, write_communes_csv
from ckanext.communes.tests.shared import ENVI

# Names that say the action writes (or sends, runs, queues): such an action must not answer GET.
WRITES = re.compile(
    r"(^|_)(create|update|patch|delete|purge|revise|reorder|reindex|run|clear|abort|import|bulk|follow|unfollow|"
    r"invite|revoke|send|mark|pin|unpin|rename|register|transfer|approve|detach|cancel|upload|reset|"
    r"queue|submit|trigger|start|stop|set|add|remove|move)(_|$)", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------
# What the registry holds

def registry() -> dict[str, Any]:
    """Every action of the portal, as CKAN resolved them (plugins loaded, chains built)."""
    logic.get_action("package_show")  # builds the registry if needed
    return dict(logic._actions)


def core_action_names() -> set[str]:
    import importlib

    names: set[str] = set()
    for module in ("get", "create", "update", "delete", "patch", "file"):
        names |= {name for name, _f in authz.get_local_functions(
            importlib.import_module(f"ckan.logic.action.{module}"))}
    return names


def plain_plugin_action_names() -> set[str]:
    """Actions a plugin registers unchained and nobody chains: CKAN stamps each ``auth_audit_exempt`` (its
    blanket exemption of extensions); the stamp says nothing of the action, the audit below does. (A
    chained action carries its own markers only: an exemption there is someone's decision.)"""
    plain: set[str] = set()
    chained: set[str] = set()
    for plugin in p.PluginImplementations(p.IActions):
        for name, function in plugin.get_actions().items():
            (chained if getattr(function, "chained_action", False) else plain).add(name)
    return plain - chained


def is_state_changing(name: str, action: Any) -> bool:
    return bool(WRITES.search(name)) or not getattr(action, "side_effect_free", False)


# --------------------------------------------------------------------------------------------------
# A portal to point the calls at

CLOSED_URL = "http://127.0.0.1:9/"  # nothing listens there: nothing is ever fetched


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Bron (the editor's commune) with a harvest source, a job and a harvest object; Lyon with a dataset,
    its resource, a relationship to another of its datasets, a task status; and another admin; a group, a vocabulary,
    a tag, a token of another user."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("communes") / "few.csv", FEW)))
        people = make_people()
        site = {"user": people.sysadmin["name"]}
        sysadmin = dict(site)
        lyon_dataset = helpers.call_action(
            "package_create", context={"user": people.other_admin["name"]}, name="arbres-de-lyon",
            title="Arbres de Lyon", notes="Les arbres.", owner_org="lyon", theme=[ENVI], license_id="etalab-2.0",
            resources=[{"url": "https://www.lyon.fr/arbres.csv", "name": "Arbres"}])
        resource = lyon_dataset["resources"][0]
        lyon_other = helpers.call_action(
            "package_create", context={"user": people.other_admin["name"]}, name="bancs-de-lyon", title="Bancs",
            notes="Les bancs.", owner_org="lyon", theme=[ENVI], license_id="etalab-2.0")
        helpers.call_action("package_relationship_create", context=dict(sysadmin), subject=lyon_dataset["id"],
                            object=lyon_other["id"], type="child_of")
        task = helpers.call_action("task_status_update", context=dict(sysadmin), entity_id=lyon_dataset["id"],
                                   entity_type="package", task_type="verification", key="etat", value="ok")
        group = helpers.call_action("group_create", context=dict(sysadmin), name="environnement",
                                    title="Environnement")
        vocabulary = helpers.call_action("vocabulary_create", context=dict(sysadmin), name="saisons",
                                         tags=[{"name": "hiver"}])
        source = helpers.call_action(
            "harvest_source_create", context=dict(sysadmin), name="source-de-bron", title="Source de Bron",
            url=CLOSED_URL + "bron.ttl", source_type="communes_dcat", owner_org="bron", frequency="MANUAL")
        job = helpers.call_action("harvest_job_create", context=dict(sysadmin), source_id=source["id"], run=False)
        harvest_object = helpers.call_action("harvest_object_create", context=dict(sysadmin), job_id=job["id"],
                                             guid="guid-1", content="{}")
        token = helpers.call_action("api_token_create", context={"user": people.other_admin["name"]},
                                    user=people.other_admin["name"], name="jeton")
        tokens = {role: people.token(role) for role in ("commune_editor", "operator")}
        activity = helpers.call_action("package_activity_list", context=dict(sysadmin), id=lyon_dataset["id"])[0]
    return {"people": people, "lyon_dataset": lyon_dataset, "lyon_other": lyon_other, "task": task,
            "resource": resource, "group": group,
            "vocabulary": vocabulary, "source": source, "job": job, "object": harvest_object, "token": token,
            "tokens": tokens, "activity": activity}


# --------------------------------------------------------------------------------------------------
# Plausible data for each action, pointing at objects the caller has no right to (the first prefix that
# matches, longest first; an action no prefix knows gets {"id": Lyon's dataset})

World = dict[str, Any]


def _dataset_fields(w: World, name: str, owner: str) -> dict[str, Any]:
    return {"name": name, "title": name, "notes": "Intrus.", "owner_org": owner, "theme": [ENVI],
            "license_id": "etalab-2.0"}


DATA: dict[str, Callable[[World], dict[str, Any]]] = {
    # datasets and resources (Lyon's)
    "package_create": lambda w: _dataset_fields(w, "intrus", "lyon"),
    "package_collaborator_": lambda w: {"id": w["lyon_dataset"]["id"],
                                        "user_id": w["people"].commune_editor["name"], "capacity": "editor"},
    "package_relationship_": lambda w: {"subject": w["lyon_dataset"]["id"], "object": w["lyon_other"]["id"],
                                        "type": "child_of", "comment": "Intrus"},
    "package_resource_reorder": lambda w: {"id": w["lyon_dataset"]["id"], "order": [w["resource"]["id"]]},
    "package_owner_org_update": lambda w: {"id": w["lyon_dataset"]["id"], "organization_id": "bron"},
    "package_create_default_resource_views": lambda w: {"package": w["lyon_dataset"]},
    "package_revise": lambda w: {"match": {"id": w["lyon_dataset"]["id"]}, "update": {"title": "Intrus"}},
    "package_": lambda w: {"id": w["lyon_dataset"]["id"], "title": "Intrus"},
    "dataset_purge": lambda w: {"id": w["lyon_dataset"]["id"]},
    "bulk_update_": lambda w: {"datasets": [w["lyon_dataset"]["id"]], "org_id": w["lyon_dataset"]["owner_org"]},
    "resource_view_create": lambda w: {"resource_id": w["resource"]["id"], "title": "Intrus",
                                       "view_type": "image_view"},
    "resource_view_reorder": lambda w: {"id": w["resource"]["id"], "order": ["vue-inconnue"]},
    "resource_view_clear": lambda w: {"view_types": ["image_view"]},
    "resource_view_": lambda w: {"id": "vue-inconnue", "resource_id": w["resource"]["id"], "title": "Intrus"},
    "resource_create_default_resource_views": lambda w: {"resource": w["resource"], "package": w["lyon_dataset"]},
    "resource_create": lambda w: {"package_id": w["lyon_dataset"]["id"], "url": "https://example.org/intrus.csv"},
    "resource_": lambda w: {"id": w["resource"]["id"], "package_id": w["lyon_dataset"]["id"], "name": "Intrus"},
    # organisations, groups, members, users (Lyon's, another's)
    "organization_member_": lambda w: {"id": "lyon", "username": w["people"].commune_editor["name"],
                                       "role": "admin"},
    "organization_create": lambda w: {"name": "intruse", "title": "Intruse"},
    "organization_": lambda w: {"id": "lyon", "title": "Intruse"},
    "group_member_": lambda w: {"id": w["group"]["id"], "username": w["people"].commune_editor["name"],
                                "role": "admin"},
    "group_create": lambda w: {"name": "intrus", "title": "Intrus"},
    "group_": lambda w: {"id": w["group"]["id"], "title": "Intrus"},
    "member_": lambda w: {"id": "lyon", "object": w["lyon_dataset"]["id"], "object_type": "package",
                          "capacity": "public"},
    "user_create": lambda w: {"name": "intrus", "email": "intrus@example.org", "password": "Intrus-2025-mot-de-passe"},
    "user_invite": lambda w: {"email": "invite@example.org", "group_id": "lyon", "role": "admin"},
    "user_": lambda w: {"id": w["people"].other_admin["name"], "email": "pirate@example.org"},
    "follow_group": lambda w: {"id": w["group"]["id"]},
    "follow_user": lambda w: {"id": w["people"].other_admin["id"]},
    "follow_": lambda w: {"id": w["lyon_dataset"]["id"]},
    "unfollow_group": lambda w: {"id": w["group"]["id"]},
    "unfollow_user": lambda w: {"id": w["people"].other_admin["id"]},
    "unfollow_": lambda w: {"id": w["lyon_dataset"]["id"]},
    "api_token_create": lambda w: {"user": w["people"].other_admin["name"], "name": "intrus"},
    "api_token_revoke": lambda w: {"token": w["token"]["token"]},
    # vocabularies, tags, tasks, translations, configuration, jobs, activities, files
    "vocabulary_create": lambda w: {"name": "intrus", "tags": [{"name": "x"}]},
    "vocabulary_": lambda w: {"id": w["vocabulary"]["id"], "name": "saisons", "tags": []},
    "tag_": lambda w: {"id": "hiver", "name": "intrus", "vocabulary_id": w["vocabulary"]["id"]},
    "task_status_update_many": lambda w: {"data": [_task_status(w)]},
    "task_status_": lambda w: {**_task_status(w), "id": w["task"]["id"]},
    "term_translation_update_many": lambda w: {"data": [{"term": "arbres", "term_translation": "x",
                                                         "lang_code": "fr"}]},
    "term_translation_": lambda w: {"term": "arbres", "term_translation": "x", "lang_code": "fr"},
    "config_option_update": lambda w: {"ckan.site_title": "Intrus"},
    "job_": lambda w: {"id": "tache-inconnue", "queues": ["default"]},
    "activity_create": lambda w: {"user_id": w["people"].other_admin["id"], "object_id": w["lyon_dataset"]["id"],
                                  "activity_type": "changed package", "data": {}},
    "activity_": lambda w: {"id": w["activity"]["id"], "activity_types": ["changed package"]},
    "dashboard_": lambda w: {},
    "send_email_notifications": lambda w: {},
    "file_create": lambda w: {"name": "intrus.txt", "storage": "default"},  # and an upload: UPLOADS
    "file_": lambda w: {"id": "fichier-inconnu", "name": "intrus.txt", "owner_id": w["lyon_dataset"]["id"],
                        "owner_type": "package", "storage": "default", "location": "intrus.txt"},
    # harvesting: the source of the editor's own commune, its job and object
    "harvest_source_create": lambda w: {"name": "intruse", "title": "Intruse", "url": CLOSED_URL + "intruse",
                                        "source_type": "communes_dcat", "owner_org": "bron"},
    "harvest_source_": lambda w: {"id": w["source"]["id"], "title": "Intruse"},
    "harvest_sources_": lambda w: {},
    "harvest_job_create_all": lambda w: {},
    "harvest_job_create": lambda w: {"source_id": w["source"]["id"]},
    "harvest_job_": lambda w: {"id": w["job"]["id"], "source_id": w["source"]["id"]},
    "harvest_jobs_run": lambda w: {"source_id": w["source"]["id"]},
    "harvest_abort_failed_jobs": lambda w: {"include": w["source"]["id"], "life_span": 0},
    "harvest_object_create": lambda w: {"job_id": w["job"]["id"], "guid": "intrus", "content": "{}"},
    "harvest_objects_import": lambda w: {"source_id": w["source"]["id"]},
    "harvest_send_job_to_gather_queue": lambda w: {"id": w["job"]["id"]},
    "communes_harvest_approve_withdrawal": lambda w: {"id": w["job"]["id"]},
    "communes_harvest_detach": lambda w: {"id": w["lyon_dataset"]["id"]},
    "communes_harvest_": lambda w: {"id": w["source"]["id"], "source_id": w["source"]["id"]},
    "communes_bilan_snapshot_create": lambda w: {},
    # reads that need more than an id to reach their check
    "activity_diff": lambda w: {"id": w["activity"]["id"], "object_type": "package"},
    "api_token_list": lambda w: {"user": w["people"].other_admin["name"]},
    "format_autocomplete": lambda w: {"q": "cs"},
    "package_autocomplete": lambda w: {"q": "arb"},
    "user_autocomplete": lambda w: {"q": "a"},
    "group_autocomplete": lambda w: {"q": "env"},
    "organization_autocomplete": lambda w: {"q": "ly"},
    "followee_list": lambda w: {"id": w["people"].other_admin["id"]},
    "organization_list_for_user": lambda w: {"id": w["people"].other_admin["id"]},
    "package_collaborator_list_for_user": lambda w: {"id": w["people"].other_admin["id"]},
    "resource_view_list": lambda w: {"id": w["resource"]["id"]},
    "help_show": lambda w: {"name": "package_show"},
}


def _task_status(w: World) -> dict[str, Any]:
    return {"entity_id": w["lyon_dataset"]["id"], "entity_type": "package", "task_type": "intrus", "key": "k",
            "value": "v"}


def data_for(name: str, w: World) -> dict[str, Any]:
    for prefix in sorted(DATA, key=len, reverse=True):
        if name == prefix or (prefix.endswith("_") and name.startswith(prefix)):
            return copy.deepcopy(DATA[prefix](w))
    return {"id": w["lyon_dataset"]["id"]}


def state_changing_actions() -> list[str]:
    return sorted(name for name, action in registry().items() if is_state_changing(name, action))




# --------------------------------------------------------------------------------------------------
# What a caller may do that changes state: written down, each with its reason

# action -> {role: reason}: the role need not be refused (the call may succeed, or fail for another reason).
MAY: dict[str, dict[str, str]] = {
    "follow_dataset": {"commune_editor": "a logged-in user follows any dataset they can see (their own list)"},
    "unfollow_dataset": {"commune_editor": "a logged-in user unfollows what they follow (their own list)"},
    "follow_group": {"commune_editor": "a logged-in user follows a group (their own list)"},
    "unfollow_group": {"commune_editor": "their own list (409 when they do not follow it)"},
    "follow_user": {"commune_editor": "a logged-in user follows another user (their own list)"},
    "unfollow_user": {"commune_editor": "their own list (409 when they do not follow them)"},
    "dashboard_mark_activities_old": {"commune_editor": "marks the caller's own dashboard as read"},
    "group_create": {"commune_editor": "CKAN's default ckan.auth.user_create_groups: any logged-in user creates a "
                                       "plain group; communes/auth.py refuses a group that would pass for a commune"},
    "dcat_dataset_show": {role: "a read: ckanext-dcat does not flag it side-effect free, so it answers POST only, "
                                "and it shows a public dataset as package_show does"
                          for role in ("anonymous", "commune_editor")},
    "resource_view_create": {role: "the portal loads no view plugin: no view can be created (409 before any "
                                   "auth check: unknown view type)" for role in ("anonymous", "commune_editor")},
    "resource_view_update": {role: "the portal loads no view plugin: no view exists to update (404)"
                             for role in ("anonymous", "commune_editor")},
    "resource_view_delete": {role: "the portal loads no view plugin: no view exists to delete (404)"
                             for role in ("anonymous", "commune_editor")},
}


# Actions that take a file: posted as a form with the file, as a browser or ckanapi would.
UPLOADS = {"file_create": "upload"}


def call_over_http(app: Any, name: str, data: dict[str, Any], token: str | None) -> tuple[int, str]:
    """The status and message of a POST to the action API; an exception the test client propagates
    counts as the 500 a server would answer."""
    try:
        if name in UPLOADS:
            form = {**data, UPLOADS[name]: (io.BytesIO(b"contenu"), "intrus.txt")}
            response = app.post(f"/api/3/action/{name}", data=form, headers={"Authorization": token} if token else {})
        else:
            response = api_post(app, name, data, token)
    except Exception as error:  # noqa: BLE001 - a 500 the client propagates
        model.Session.rollback()
        return 500, repr(error)[:200]
    error = response.json.get("error") if response.is_json else None
    return response.status_code, str((error or {}).get("message") or error or "")[:200]


@pytest.mark.parametrize("role", ["anonymous", "commune_editor"])
def test_every_state_changing_action_refuses_anonymous_users_and_commune_editors(
        app: Any, world: World, role: str) -> None:
    token = world["tokens"].get(role)
    failures = {}
    for name in state_changing_actions():
        status, message = call_over_http(app, name, data_for(name, world), token)
        if status != 403 and role not in MAY.get(name, {}):
            failures[name] = f"{status} {message}"
    assert failures == {}, "\n".join(f"{name}: {outcome}" for name, outcome in sorted(failures.items()))


def test_the_written_exceptions_name_actions_that_exist() -> None:
    assert set(MAY) <= set(registry()), set(MAY) - set(registry())


# --------------------------------------------------------------------------------------------------
# CKAN's auth audit, put back for every action

class AuditTrail(list):
    """``context["__auth_audit"]`` that remembers whose entries ``check_access`` took off: CKAN pushes
    (action, id) before running an action, ``check_access(action)`` pops it when the action asks its own
    authorisation function, and CKAN's wrapper pops whatever is left once the action returns."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: set[str] = set()

    def pop(self, *args: Any) -> Any:
        entry = super().pop(*args)
        if sys._getframe(1).f_code.co_name == "check_access":
            self.checked.add(entry[0])
        return entry


def consults_its_own_auth(name: str, world: World) -> bool:
    """Called anonymously (in the process, so that the trail can be read), did the action ask its own
    authorisation function, whatever it answered?"""
    trail = AuditTrail()
    context = {"user": "", "auth_user_obj": None, "__auth_audit": trail}
    data = data_for(name, world)
    if name in UPLOADS:
        from werkzeug.datastructures import FileStorage

        data[UPLOADS[name]] = FileStorage(io.BytesIO(b"contenu"), "intrus.txt")
    try:
        tk.get_action(name)(context, data)
    except Exception:  # noqa: BLE001 - refused, invalid or broken: only the trail matters here
        model.Session.rollback()
    return name in trail.checked


# action -> why it does not call check_access under its own name (or why CKAN's auth_audit_exempt flag on it
# is right). Every other action, ours and the extensions' included, consults its own auth function.
NOT_AN_ACTION = ("not an action: a helper (or an auth function) of ckanext-harvest it registers as one; "
                 "harvesters/actions.py refuses it to anyone before anything")
UNCHECKED: dict[str, str] = {
    **{name: NOT_AN_ACTION for name in (
        "InactiveSource", "get_mail_extra_vars", "prepare_error_mail", "prepare_summary_mail", "send_error_email",
        "send_mail", "send_summary_email", "auth_allow_anonymous_access", "harvest_sources_clear")},
    "harvest_source_patch": "checks harvest_source_update (operators): under harvest_source_patch ckanext-harvest "
                            "registers its patch action as an auth function (harvesters/auth.py)",
    "harvest_abort_failed_jobs": "checks harvest_jobs_run (operators): aborting is running's right; "
                                 "ckanext-harvest's registers no auth function of this name we could trust",
    "harvest_log_list": "checks harvest_jobs_run (operators): ckanext-harvest's check of this name recurses",
    "harvest_source_index_clear": "ckanext-harvest's: checks harvest_source_clear (operators)",
    "harvest_source_job_history_clear": "ckanext-harvest's: checks harvest_source_clear (operators)",
    "harvest_sources_job_history_clear": "ckanext-harvest's: checks harvest_sources_clear (operators)",
    "harvest_job_report": "ckanext-harvest's: checks harvest_job_show (the source's readers)",
    "harvest_source_show": "ckanext-harvest's: reads through package_show, whose check is the source's readers' "
                           "(harvesters/auth.py)",
    "harvest_send_job_to_gather_queue": "ckanext-harvest's: shows the job first (harvest_job_show, the source's "
                                        "readers), then checks its own (operators): anonymous users stop at the first",
    "task_status_update_many": "CKAN's: runs task_status_update, and its check, for each item",
    "term_translation_update_many": "CKAN's: runs term_translation_update, and its check, for each item",
    "package_collaborator_list_for_user": "collaborators are off (ckan.auth.allow_dataset_collaborators): a 409 "
                                          "before any check",
    "resource_view_create": "the portal loads no view plugin: a 409 (unknown view type) before any check",
    "resource_view_update": "the portal loads no view plugin: no view exists (404 before the check)",
    "resource_view_delete": "the portal loads no view plugin: no view exists (404 before the check)",
    **{name: "ckanext-scheming's: the public schemas, no auth function at all (CKAN audits none then either)"
       for name in ("scheming_dataset_schema_list", "scheming_dataset_schema_show",
                    "scheming_organization_schema_list", "scheming_organization_schema_show")},
}


def test_every_action_consults_its_own_authorisation_or_says_why(world: World) -> None:
    unchecked = {name for name in registry() if not consults_its_own_auth(name, world)}
    unexplained = sorted(unchecked - set(UNCHECKED))
    assert unexplained == [], f"call check_access({{name}}) or write down why not: {unexplained}"
    stale = sorted(set(UNCHECKED) - unchecked)
    assert stale == [], f"these now consult their auth function: remove them from UNCHECKED: {stale}"


def test_no_action_is_exempt_from_the_auth_audit_without_a_written_reason(world: World) -> None:
    """CKAN's own exemptions and those a chained action sets (ours, ckanext-harvest's flag carried over)
    are decisions someone took; the blanket stamp CKAN puts on every unchained extension action is not,
    and the audit above stands in for it."""
    blanket = plain_plugin_action_names()
    exempt = {name for name, action in registry().items() if getattr(action, "auth_audit_exempt", False)}
    decided = sorted(name for name in exempt - blanket if name not in UNCHECKED)
    assert decided == [], f"auth_audit_exempt without a reason in UNCHECKED: {decided}"


def test_no_action_named_for_a_write_answers_get(app: Any, world: World) -> None:
    """CKAN reads the data of a ``side_effect_free`` action from the query string of a GET: a link, an
    image on any site, run it with the visitor's session."""
    answering_get = sorted(name for name, action in registry().items()
                           if WRITES.search(name) and getattr(action, "side_effect_free", False))
    assert answering_get == []
    source_id = world["source"]["id"]
    response = app.get(f"/api/3/action/harvest_source_reindex?id={source_id}",
                       headers={"Authorization": world["tokens"]["operator"]})
    assert response.status_code == 400, response.body  # « Please use POST »


def test_a_source_is_reindexed_by_operators_only_and_the_bilan_keeps_its_cache(app: Any, world: World) -> None:
    from ckanext.communes.bilan import cache

    source_id = world["source"]["id"]
    before = cache.generation()
    for token in (None, world["tokens"]["commune_editor"]):
        api_post(app, "harvest_source_reindex", {"id": source_id}, token, status=403)
        api_post(app, "harvest_sources_reindex", {}, token, status=403)
        assert app.get(f"/api/3/action/harvest_source_reindex?id={source_id}",
                       headers={"Authorization": token} if token else {}).status_code == 400
    assert cache.generation() == before
    api_post(app, "harvest_source_reindex", {"id": source_id}, world["tokens"]["operator"], status=200)
    assert cache.generation() > before
    api_post(app, "harvest_sources_reindex", {}, world["tokens"]["operator"], status=200)


# auth function -> why anonymous users reach it (CKAN then lets the function decide instead of refusing
# outright). Required for the auth function of every state-changing action, and for every one of ours.
PUBLIC_READ = "a public read of the programme (the communes, the bilan and its snapshots are open data)"
SOURCE_READERS = ("a read of a harvest source, job or object: anonymous users reach our function, which refuses "
                  "them with its own message (harvesters/auth.py), rather than CKAN's generic one")
ANONYMOUS: dict[str, str] = {
    "commune_list": PUBLIC_READ,
    "commune_show": PUBLIC_READ,
    "communes_bilan": PUBLIC_READ,
    "communes_bilan_snapshot_compare": PUBLIC_READ,
    "communes_bilan_snapshot_list": PUBLIC_READ,
    "communes_bilan_snapshot_show": PUBLIC_READ,
    "communes_mqa": "data.europa.eu's rating of what the portal publishes, public as the catalogue is; it counts only "
                    "the datasets the caller may read (tests/bilan/test_mqa_action.py, per role)",
    "harvest_job_show": SOURCE_READERS,
    "harvest_object_show": SOURCE_READERS,
    "harvest_source_show": SOURCE_READERS,
    "harvest_source_show_status": SOURCE_READERS,
    "package_show": "CKAN's read of a dataset, public ones to anyone; ours refuses sources to all but their readers",
    "activity_show": "CKAN's (the activity of a public dataset is public); ours only fills a parameter its check "
                     "needs (action_guard.py)",
    "dcat_dataset_show": "ckanext-dcat's read of a public dataset in RDF (POST only: it is not flagged side-effect "
                         "free, which makes it look like a write here)",
    "user_create": "CKAN's: the function itself refuses anonymous sign-ups unless ckan.auth.create_user_via_web "
                   "or _via_api allows them (both off here: the walk above gets 403)",
    "user_update": "CKAN's: a password reset key lets a logged-out user set their password; without one the "
                   "function refuses (the walk above gets 403)",
}


def _is_ours(function: Any) -> bool:
    import functools

    while isinstance(function, functools.partial):
        function = function.func
    return getattr(function, "__module__", "").startswith("ckanext.communes")


def test_no_auth_function_lets_anonymous_users_in_without_a_written_reason() -> None:
    actions = registry()
    flagged = set()
    for name in authz.auth_functions_list():
        function = authz._AuthFunctions.get(name)
        if not getattr(function, "auth_allow_anonymous_access", False):
            continue
        if _is_ours(function) or (name in actions and is_state_changing(name, actions[name])):
            flagged.add(name)
    unexplained = sorted(flagged - set(ANONYMOUS))
    assert unexplained == [], f"open to anonymous users without a reason in ANONYMOUS: {unexplained}"
    assert sorted(set(ANONYMOUS) - flagged) == [], "no longer open to anonymous users: remove from ANONYMOUS"


def test_no_action_answers_an_anonymous_get_with_a_server_error(app: Any, world: World) -> None:
    """Every read, asked anonymously with the data above (a query string), or with none, answers
    without a 500."""
    failures = {}
    for name, action in sorted(registry().items()):
        if not getattr(action, "side_effect_free", False):
            continue
        data = {key: value for key, value in data_for(name, world).items() if isinstance(value, str)}
        for query in (data, {}):
            try:
                response = app.get(f"/api/3/action/{name}", query_string=query)
            except Exception as error:  # noqa: BLE001 - the 500 a server would answer
                model.Session.rollback()
                failures[f"{name} {sorted(query)}"] = repr(error)[:200]
                continue
            if response.status_code >= 500:
                failures[f"{name} {sorted(query)}"] = str(
                    response.json.get("error") if response.is_json else response.body[:200])
    assert failures == {}, "\n".join(f"{name}: {outcome}" for name, outcome in sorted(failures.items()))


@pytest.mark.parametrize("junk", [["a", "b"], {"a": 1}, 5], ids=["list", "object", "number"])
def test_no_action_answers_an_identifier_that_is_not_text_with_a_server_error(app: Any, junk: Any) -> None:
    """``id``, ``q``, ``…_id`` as a list, an object or a number (or, on a GET, repeated): CKAN hands them to
    SQL or Solr and most actions answered a 500 (api_guard.py now answers a French 400 naming it)."""
    failures = {}
    for name in sorted(registry()):
        for data in ({"id": junk}, {"q": junk}, {"package_id": junk}):
            status, message = call_over_http(app, name, data, None)
            if status >= 500:
                failures[f"{name} {sorted(data)}"] = message
    response = app.get("/api/3/action/package_show?id=a&id=b", status=400)
    assert "« id »" in response.json["error"]["message"]
    assert failures == {}, "\n".join(f"{name}: {outcome}" for name, outcome in sorted(failures.items()))
