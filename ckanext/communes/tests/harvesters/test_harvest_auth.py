"""Who may manage harvest sources and read their reports, through the API (HTTP status per role)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.communes.conftest import ROLES, People, api_post, world  # noqa: F401
from ckanext.communes.tests.harvesters.test_workers import (  # noqa: F401
    CLOSED_URL,
    PLUGINS_WITH_CKAN_HARVESTER,
    harvest_env,
    site_context,
    wired,
)

WRITERS = {"sysadmin", "operator"}
READERS = {"sysadmin", "operator", "commune_admin", "commune_editor"}

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER),
    pytest.mark.usefixtures("harvest_env"),
]


def expected(role: str, allowed: set[str]) -> int:
    return 200 if role in allowed else 403


def new_source(owner: str = "bron") -> dict[str, Any]:
    name = "src-" + uuid.uuid4().hex[:10]
    return helpers.call_action("harvest_source_create", context=site_context(), name=name, title=f"Source {name}",
                               url=CLOSED_URL + name, source_type="ckan", owner_org=owner, frequency="MANUAL")


@pytest.fixture
def source(world: People) -> dict[str, Any]:  # noqa: F811
    return new_source()


@pytest.fixture
def finished_job(source: dict[str, Any]) -> dict[str, Any]:
    job = helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)
    helpers.call_action("harvest_job_abort", context=site_context(), id=job["id"])
    return job


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_create_a_source_for_a_commune(role: str, world: People, app: Any) -> None:  # noqa: F811
    name = "src-" + uuid.uuid4().hex[:10]
    data = {"name": name, "title": name, "url": CLOSED_URL + name, "source_type": "ckan", "owner_org": "bron"}
    api_post(app, "harvest_source_create", data, world.token(role), status=expected(role, WRITERS))
    # The source dataset under CKAN's own name is guarded too.
    data = {**data, "name": name + "-p", "url": data["url"] + "-p", "type": "harvest"}
    api_post(app, "package_create", data, world.token(role), status=expected(role, WRITERS))
    from ckan import model

    created = [model.Package.get(n) is not None for n in (name, name + "-p")]
    assert created == ([True, True] if role in WRITERS else [False, False])


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_update_or_patch_a_source(role: str, world: People, source: dict[str, Any],  # noqa: F811
                                                  app: Any) -> None:
    status = expected(role, WRITERS)
    api_post(app, "harvest_source_patch", {"id": source["id"], "notes": "patched"}, world.token(role), status=status)
    update = {**{k: source[k] for k in ("id", "name", "title", "url", "source_type", "owner_org", "frequency")},
              "notes": "updated"}
    api_post(app, "harvest_source_update", update, world.token(role), status=status)
    api_post(app, "package_patch", {"id": source["id"], "notes": "by package_patch"}, world.token(role),
             status=status)
    notes = helpers.call_action("harvest_source_show", context=site_context(), id=source["id"])["notes"]
    assert (notes == "by package_patch") == (role in WRITERS)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_run_a_source(role: str, world: People, source: dict[str, Any], app: Any) -> None:  # noqa: F811
    api_post(app, "harvest_job_create", {"source_id": source["id"], "run": False}, world.token(role),
             status=expected(role, WRITERS))
    jobs = helpers.call_action("harvest_job_list", context=site_context(), source_id=source["id"])
    assert len(jobs) == (1 if role in WRITERS else 0)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_clear_a_source(role: str, world: People, finished_job: dict[str, Any],  # noqa: F811
                                       app: Any) -> None:
    api_post(app, "harvest_source_clear", {"id": finished_job["source_id"]}, world.token(role),
             status=expected(role, WRITERS))
    jobs = helpers.call_action("harvest_job_list", context=site_context(), source_id=finished_job["source_id"])
    assert len(jobs) == (0 if role in WRITERS else 1)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_delete_a_source(role: str, world: People, source: dict[str, Any], app: Any) -> None:  # noqa: F811
    api_post(app, "harvest_source_delete", {"id": source["id"]}, world.token(role), status=expected(role, WRITERS))
    from ckan import model

    assert (model.Package.get(source["id"]).state == "deleted") == (role in WRITERS)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_abort_jobs(role: str, world: People, source: dict[str, Any], app: Any) -> None:  # noqa: F811
    job = helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)
    api_post(app, "harvest_job_abort", {"id": job["id"]}, world.token(role), status=expected(role, WRITERS))
    status = helpers.call_action("harvest_job_show", context=site_context(), id=job["id"])["status"]
    assert (status == "Finished") == (role in WRITERS)
    # ckanext-harvest checks nothing at all for this one.
    response = api_post(app, "harvest_abort_failed_jobs", {"life_span": 1}, world.token(role),
                        status=expected(role, WRITERS))
    assert response.status_code == expected(role, WRITERS)


@pytest.mark.parametrize("role", ROLES)
def test_the_commune_sees_its_sources_and_job_reports_read_only(role: str, world: People,  # noqa: F811
                                                                finished_job: dict[str, Any], app: Any) -> None:
    status = expected(role, READERS)
    token = world.token(role)
    answers = [api_post(app, action, data, token, status=status).status_code for action, data in (
        ("harvest_job_report", {"id": finished_job["id"]}),
        ("harvest_job_show", {"id": finished_job["id"]}),
        ("harvest_job_list", {"source_id": finished_job["source_id"]}),
        ("harvest_source_show", {"id": finished_job["source_id"]}),
        ("package_show", {"id": finished_job["source_id"]}),
    )]
    assert answers == [status] * 5


@pytest.mark.parametrize("role", ROLES)
def test_lists_spanning_every_source_are_for_operators(role: str, world: People, app: Any) -> None:  # noqa: F811
    token = world.token(role)
    answers = [api_post(app, action, {}, token, status=expected(role, WRITERS)).status_code
               for action in ("harvest_job_list", "harvest_source_list", "harvest_log_list")]
    assert answers == [expected(role, WRITERS)] * 3


def test_a_refusal_says_who_may_manage_sources(world: People, source: dict[str, Any], app: Any) -> None:  # noqa: F811
    response = api_post(app, "harvest_job_create", {"source_id": source["id"]}, world.token("commune_admin"),
                        status=403)
    assert "Métropole de Lyon" in response.json["error"]["message"]


def test_ordinary_datasets_keep_their_rules(world: People, app: Any) -> None:  # noqa: F811
    """The guards act on harvest sources only: a public dataset stays public, a commune editor edits it."""
    dataset = helpers.call_action("package_create", context={"user": world.sysadmin["name"]},
                                  name="ds-" + uuid.uuid4().hex[:8], title="Jeu", notes="n", owner_org="bron",
                                  theme=["ENVI"])
    api_post(app, "package_show", {"id": dataset["id"]}, None, status=200)
    api_post(app, "package_patch", {"id": dataset["id"], "notes": "edited"}, world.token("commune_editor"),
             status=200)
    assert helpers.call_action("package_show", id=dataset["id"])["notes"] == "edited"
