"""Every download of ckanext-xloader goes through the guarded client (dataapi/loader_guard.py): a commune
editor cannot make the server fetch 127.0.0.1 or a private address through a resource link, unless the
operators allow private addresses; the refusal is a French sentence on the resource page, nothing is loaded.
And the replacement of xloader's private download function fails loudly if xloader moves it."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.dataapi import loader_guard
from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset, load

pytestmark = [DATA_API]

CSV_BODY = "nom,type\nStade,stade\n"


def test_xloader_still_downloads_through_the_function_we_replace_and_nothing_else_fetches():
    """If ckanext-xloader renames or moves _download_resource_data, changes its signature, stops calling it by
    its module-global name, or fetches with requests anywhere else, this fails: read its jobs.py again."""
    from ckanext.xloader import jobs, loader

    assert loader_guard.installed(), "the guard is not installed (plugin.py, IConfigurable.configure)"
    original = loader_guard._ORIGINALS["_download_resource_data"]
    assert original.__module__ == "ckanext.xloader.jobs"
    assert list(inspect.signature(original).parameters) == ["resource", "data", "api_key", "logger"]
    assert list(inspect.signature(loader_guard.download_resource_data).parameters) == [
        "resource", "data", "api_key", "logger"]
    assert list(inspect.signature(loader_guard._ORIGINALS["get_response"]).parameters) == ["url", "headers"]
    load_source = inspect.getsource(jobs.xloader_data_into_datastore_)
    assert re.search(r"\b_download_resource_data\(resource, data, api_key,", load_source)
    jobs_source = inspect.getsource(jobs)
    # The only outgoing calls of jobs.py: requests.get in get_response (replaced), requests.post to the
    # portal's own xloader_hook (callback_xloader_hook: the configured site URL, not a URL a user typed).
    assert re.findall(r"requests\.(get|post|request|head|Session)\b", jobs_source) == ["get", "post"]
    assert "requests.post(\n            modify_input_url(result_url)" in jobs_source
    assert not re.search(r"\brequests\b|urlopen|urllib", inspect.getsource(loader))


ADDRESSES = ["fixture-server", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"]


@pytest.mark.usefixtures("loader")
def test_a_link_to_a_private_address_is_refused_with_a_french_reason_and_nothing_is_loaded(
        app, people, source_server):
    """Each address tried, each wrong outcome listed."""
    source_server.serve("/equipements.csv", CSV_BODY, content_type="text/csv")
    port = source_server.port
    editor = people.commune_editor
    token = people.token("commune_editor")
    wrong: list[str] = []
    for index, address in enumerate(ADDRESSES):
        url = (source_server.url("/equipements.csv") if address == "fixture-server"
               else f"http://{address}:{port}/equipements.csv")
        dataset = create_dataset(_bron_id(), url, user=editor["name"], name=f"equipements-{index}")
        resource_id = dataset["resources"][0]["id"]
        status = load(resource_id)
        if status["status"] != "error":
            wrong.append(f"{address}: {status['status']}")
        if source_server.requests:
            wrong.append(f"{address}: the server was reached {source_server.requests}")
        if helpers.call_action("resource_show", id=resource_id)["datastore_active"] is not False:
            wrong.append(f"{address}: datastore_active")
        try:
            helpers.call_action("datastore_search", resource_id=resource_id)
            wrong.append(f"{address}: a table exists")
        except helpers.logic.NotFound:
            pass
        page = app.get(f"/dataset/{dataset['name']}/resource/{resource_id}", headers={"Authorization": token})
        text = _alert(page.body) if page.status_code == 200 else f"HTTP {page.status_code}"
        if not text.startswith("Les données de cette ressource n’ont pas pu être chargées dans le DataStore : "
                               ) or "n’est pas publique" not in text:
            wrong.append(f"{address}: {text}")
        # Not shown to the public.
        if "communes-datastore-error" in app.get(f"/dataset/{dataset['name']}/resource/{resource_id}").body:
            wrong.append(f"{address}: the refusal is shown to anonymous visitors")
    assert wrong == []


@pytest.mark.usefixtures("loader", "allow_private_addresses")
def test_the_operators_option_lets_the_loader_reach_a_private_address(people, source_server):
    source_server.serve("/equipements.csv", CSV_BODY, content_type="text/csv")
    dataset = create_dataset(_bron_id(), source_server.url("/equipements.csv"), user=people.commune_editor["name"])
    status = load(dataset["resources"][0]["id"])
    assert status["status"] == "complete", status
    assert helpers.call_action("datastore_search", resource_id=dataset["resources"][0]["id"])["total"] == 1


@pytest.mark.usefixtures("loader", "allow_private_addresses")
def test_a_redirect_to_a_private_address_is_refused_even_from_a_public_looking_start(app, people, source_server,
                                                                                        ckan_config, monkeypatch):
    """With only the fixture server's address allowed, a redirect from it to 10.0.0.7 is refused at the hop."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", False)
    monkeypatch.setattr(loader_guard, "loader_limits", _limits_allowing_loopback(loader_guard.loader_limits))
    source_server.redirect("/equipements.csv", "http://10.0.0.7/interne.csv")
    dataset = create_dataset(_bron_id(), source_server.url("/equipements.csv"))
    status = load(dataset["resources"][0]["id"])
    assert status["status"] == "error"
    assert source_server.requested("/equipements.csv") == 1
    page = app.get(f"/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}",
                   headers={"Authorization": people.token("commune_editor")})
    assert "n’est pas publique" in _alert(page.body)


def _limits_allowing_loopback(original: Any) -> Any:
    def limits() -> Any:
        import dataclasses

        return dataclasses.replace(original(), allowed_networks=("127.0.0.1/32",))

    return limits


def _bron_id() -> str:
    return model.Group.get("bron").id


def _alert(body: str) -> str:
    match = re.search(r'<div class="alert alert-danger communes-datastore-error"[^>]*>(.*?)</div>', body, re.S)
    if not match:
        return "no DataStore error on the resource page"
    import html

    return html.unescape(match.group(1)).strip()


@pytest.mark.usefixtures("loader")
def test_an_uploaded_file_is_read_from_the_storage_not_fetched_over_http(people, create_with_upload):
    """An upload's URL is the portal's own (which may be on a private address): the loader reads the stored
    file, so no option is needed and nothing goes over HTTP."""
    bron_id = _bron_id()
    dataset = create_dataset(bron_id, "https://example.org/autre.csv", name="depot")
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    resource = create_with_upload("nom,type\nStade,stade\nPiscine,piscine\n", "equipements.csv",
                                  package_id=dataset["id"], format="CSV", context={"user": site_user})
    assert resource["url_type"] == "upload"
    stored = model.Resource.get(resource["id"])
    if stored.format != "CSV":
        stored.format = "CSV"
        model.Session.commit()
    status = load(resource["id"])
    assert status["status"] == "complete", status
    assert helpers.call_action("datastore_search", resource_id=resource["id"])["total"] == 2


def test_downloads_from_one_host_start_at_least_the_operators_interval_apart(app, source_server, ckan_config,
                                                                              monkeypatch):
    """The per-host rate limit (ckanext.communes.datastore.per_host_interval), shared with the link checker's
    limiter (net/host_limiter.py), across workers through Redis."""
    import logging
    import time

    from ckan.lib.redis import connect_to_redis

    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", True)
    monkeypatch.setitem(ckan_config, "ckanext.communes.datastore.per_host_interval", "0.6")
    connect_to_redis().delete(loader_guard.REDIS_KEY.format(host="127.0.0.1"))
    starts: list[float] = []

    def answer(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        starts.append(time.monotonic())
        return 200, {"Content-Type": "text/csv"}, CSV_BODY

    source_server.handle("/equipements.csv", answer)
    for _ in range(3):
        tmp_file, digest = loader_guard.download_resource_data(
            {"id": "r", "url": source_server.url("/equipements.csv"), "format": "CSV"}, {}, None,
            logging.getLogger("test"))
        assert tmp_file.read() == CSV_BODY.encode()
        tmp_file.close()
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.55, gaps
