"""The pages that change a harvest source (Reharvest, Clear, Delete, Delete and clear, Stop a job) act on a
POST carrying the form's CSRF token only (harvesters/views.py). ckanext-harvest's answered GET: an
``<img src="/harvest/clear/…">`` on any site, seen by a logged-in operator, cleared a source. A GET now shows a
confirmation page whose button posts the token (CKAN's way for a dataset's deletion); a post without the
token is refused (400) and changes nothing. Six roles, each with a browser session (cookies), as a forged
request would come."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.communes.conftest import ROLES, People, world  # noqa: F401
from ckanext.communes.tests.harvesters.test_workers import CLOSED_URL, site_context

OPERATORS = {"sysadmin", "operator"}

pytestmark = pytest.mark.usefixtures("clean_queues")


def new_source(owner: str = "bron") -> dict[str, Any]:
    name = "src-" + uuid.uuid4().hex[:10]
    return helpers.call_action("harvest_source_create", context=site_context(), name=name, title=f"Source {name}",
                               url=CLOSED_URL + name, source_type="communes_dcat", owner_org=owner,
                               frequency="MANUAL")


def new_job(source: dict[str, Any], status: str = "New") -> dict[str, Any]:
    from ckanext.harvest.model import HarvestJob

    job = helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)
    if status != "New":
        stored = HarvestJob.get(job["id"])
        stored.status = status
        stored.save()
    return job


def jobs_of(source: dict[str, Any]) -> list[dict[str, Any]]:
    return helpers.call_action("harvest_job_list", context=site_context(), source_id=source["id"])


def state_of(source: dict[str, Any]) -> str:
    model.Session.expire_all()
    return model.Package.get(source["id"]).state


@dataclass
class Command:
    """A state-changing page: its address for a fresh source, and whether the change happened."""
    name: str
    prepare: Callable[[], tuple[str, Callable[[], bool]]]


def _refresh() -> tuple[str, Callable[[], bool]]:
    source = new_source()
    return f"/harvest/refresh/{source['id']}", lambda: len(jobs_of(source)) == 1


def _clear() -> tuple[str, Callable[[], bool]]:
    source = new_source()
    helpers.call_action("harvest_job_abort", context=site_context(), id=new_job(source)["id"])
    return f"/harvest/clear/{source['id']}", lambda: not jobs_of(source)


def _delete() -> tuple[str, Callable[[], bool]]:
    source = new_source()
    return f"/harvest/delete/{source['name']}", lambda: state_of(source) == "deleted"


def _delete_and_clear() -> tuple[str, Callable[[], bool]]:
    source = new_source()
    helpers.call_action("harvest_job_abort", context=site_context(), id=new_job(source)["id"])
    return (f"/harvest/delete/{source['name']}?clear=True",
            lambda: state_of(source) == "deleted" and not jobs_of(source))


def _abort() -> tuple[str, Callable[[], bool]]:
    source = new_source()
    job = new_job(source, "Running")
    return (f"/harvest/{source['name']}/job/{job['id']}/abort",
            lambda: helpers.call_action("harvest_job_show", context=site_context(), id=job["id"])["status"]
            == "Finished")


COMMANDS = [Command("refresh", _refresh), Command("clear", _clear), Command("delete", _delete),
            Command("delete and clear", _delete_and_clear), Command("abort", _abort)]


PASSWORD = "correct horse battery staple"


def page_token(client: Any, path: str = "/dataset/") -> str:
    """The session's CSRF token, as every page carries it for CKAN's scripts."""
    found = re.search(r'<meta name="_csrf_token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def browser(app: Any, world: People, role: str) -> Any:  # noqa: F811
    """A client logged in through the login form, with a browser's session cookie (anonymous: none)."""
    client = app.test_client()
    if role == "anonymous":
        return client
    name = getattr(world, role)["name"]
    account = model.User.get(name)
    if not account.validate_password(PASSWORD):
        account.password = PASSWORD  # the factory's is random: one the form can be given
        model.repo.commit()
    client.post("/user/login", data={"login": name, "password": PASSWORD,
                                     "_csrf_token": page_token(client, "/user/login")})
    assert f"/user/{name}" in client.get("/dashboard/datasets").get_data(as_text=True), "not logged in"
    return client


@pytest.mark.parametrize("role", ROLES)
def test_a_command_acts_on_a_post_with_the_token_only_and_for_operators_only(
        role: str, world: People, app: Any) -> None:  # noqa: F811
    client = browser(app, world, role)
    token = page_token(client)
    wrong: list[str] = []
    for command in COMMANDS:
        # GET: what a forged <img src> or a link sends. Operators get a page that asks; nothing changes.
        url, changed = command.prepare()
        response = client.get(url, follow_redirects=False)
        html = response.get_data(as_text=True)
        expected = 200 if role in OPERATORS else 403
        if response.status_code != expected:
            wrong.append(f"GET {command.name}: {response.status_code}, expected {expected}")
        if role in OPERATORS:
            form = re.search(r'<form[^>]*class="communes-harvest-confirm"[^>]*>(.*?)</form>', html, re.S)
            if not form or 'method="post"' not in form.group(0) or 'name="_csrf_token"' not in form.group(1):
                wrong.append(f"GET {command.name}: no confirmation form posting the token")
            elif f'action="{url}"' not in form.group(0):
                wrong.append(f"GET {command.name}: the form posts elsewhere: {form.group(0)[:200]}")
        if changed():
            wrong.append(f"GET {command.name} changed the source")
        # POST without the token: a forged form on another site. Refused (anonymous: our 403 after CKAN's
        # CSRF exemption of anonymous requests).
        response = client.post(url, data={}, follow_redirects=False)
        expected = 403 if role == "anonymous" else 400
        if response.status_code != expected:
            wrong.append(f"POST {command.name} without token: {response.status_code}, expected {expected}")
        if changed():
            wrong.append(f"POST {command.name} without token changed the source")
        # POST with the token: the operators' button.
        response = client.post(url, data={"_csrf_token": token}, follow_redirects=False)
        expected = 302 if role in OPERATORS else 403
        if response.status_code != expected:
            wrong.append(f"POST {command.name} with token: {response.status_code}, expected {expected}")
        if changed() != (role in OPERATORS):
            wrong.append(f"POST {command.name} with token: changed={changed()}")
    assert not wrong, "\n".join(wrong)


def test_an_unknown_source_or_a_job_of_another_source_is_a_404_for_operators(world: People, app: Any) -> None:  # noqa: F811
    client = browser(app, world, "operator")
    token = page_token(client)
    source, other = new_source(), new_source("lyon")
    job = new_job(other, "Running")
    for url in ("/harvest/refresh/nope", "/harvest/clear/nope", "/harvest/delete/nope",
                f"/harvest/{source['name']}/job/{uuid.uuid4()}/abort",
                f"/harvest/{source['name']}/job/{job['id']}/abort"):
        assert client.get(url, follow_redirects=False).status_code == 404, url
        assert client.post(url, data={"_csrf_token": token}, follow_redirects=False).status_code == 404, url
    assert helpers.call_action("harvest_job_show", context=site_context(), id=job["id"])["status"] == "Running"


def test_a_second_reharvest_says_in_french_that_a_job_is_waiting(world: People, app: Any) -> None:  # noqa: F811
    client = browser(app, world, "operator")
    token = page_token(client)
    source = new_source()
    new_job(source)
    response = client.post(f"/harvest/refresh/{source['id']}", data={"_csrf_token": token})
    assert response.status_code == 200
    assert "a déjà une tâche" in response.get_data(as_text=True)
    assert len(jobs_of(source)) == 1


def test_the_buttons_post_the_token_through_ckans_confirmation(world: People, app: Any) -> None:  # noqa: F811
    """Each link to a command is CKAN's confirm-action (a dialog, then a POST with the page's token, by
    script; without script, the link leads to the confirmation page), never a bare link."""
    client = browser(app, world, "operator")
    idle, busy = new_source(), new_source()
    new_job(busy, "Running")
    pages = {f"/harvest/admin/{idle['name']}": ("/harvest/refresh/", "/harvest/clear/"),
             f"/harvest/admin/{busy['name']}": ("/abort", "/harvest/clear/"),
             f"/harvest/edit/{idle['name']}": ("/harvest/delete/", "/harvest/delete/")}
    for page, wanted in pages.items():
        html = client.get(page).get_data(as_text=True)
        assert '<meta name="_csrf_token"' in html
        links = re.findall(r"<a\b[^>]*>", html)
        commands = [link for link in links
                    if re.search(r'href="[^"]*(/harvest/(refresh|clear|delete)/|/abort")', link)]
        for part in wanted:
            assert any(part in link for link in commands), (page, part, commands)
        bare = [link for link in commands if 'data-module="confirm-action"' not in link]
        assert not bare, (page, bare)
    edit = client.get(f"/harvest/edit/{idle['name']}").get_data(as_text=True)
    assert f'href="/harvest/delete/{idle["name"]}?clear=True"' in edit


def test_the_command_addresses_are_ours_for_every_method(app: Any) -> None:
    """communes comes before harvest in ckan.plugins (docs/configuration.md): CKAN matches the first rule
    registered, so these addresses reach our views, not ckanext-harvest's (nor CKAN's dataset deletion)."""
    adapter = app.flask_app.url_map.bind("localhost")
    for path in ("/harvest/refresh/x", "/harvest/clear/x", "/harvest/delete/x", "/harvest/s/job/j/abort"):
        for method in ("GET", "POST"):
            endpoint, _args = adapter.match(path, method=method)
            assert endpoint.startswith("communes_harvest."), (path, method, endpoint)
