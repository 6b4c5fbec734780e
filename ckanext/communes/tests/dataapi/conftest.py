"""Fixtures of the Data API tests: the DataStore and ckanext-xloader loaded for these tests only (the rest of
the suite runs without them), an emptied DataStore database, the loader's API token, the remote files served
by the harvest tests' real HTTP server on 127.0.0.1, and the people of the permission matrix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.tests.communes.conftest import few_communes, people  # noqa: F401 - fixtures re-exported
from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - fixtures re-exported
    _source_server_instance,
    allow_private_addresses,
    source_server,
)
from ckanext.communes.tests.schema.conftest import bron, bron_editor, sysadmin  # noqa: F401 - fixtures re-exported
from ckanext.communes.tests.shared import CSV, ENVI

# For a module: `pytestmark = [DATA_API, ...]`.
DATA_API = pytest.mark.with_plugins("datastore", "xloader", "datatables_view")


@pytest.fixture
def clean_datastore(clean_db, clean_index) -> Iterator[None]:
    """The DataStore database emptied (its tables dropped), as CKAN's own datastore tests do."""
    import sqlalchemy as sa

    from ckanext.datastore.backend.postgres import get_write_engine

    def drop_tables() -> None:
        with get_write_engine().begin() as connection:
            names = [row[0] for row in connection.execute(sa.text(
                "select tablename from pg_tables where schemaname = 'public' and tablename != '_table_stats'"))]
            for name in names:
                connection.execute(sa.text(f'drop table "{name}" cascade'))
            connection.execute(sa.text('delete from "_table_stats"'))

    drop_tables()
    yield


@pytest.fixture
def loader(ckan_config, monkeypatch, live_server, clean_datastore) -> str:
    """What the loader needs to run in a test: its API token (a sysadmin's, as `make run` sets it) and the
    portal served over HTTP (xloader's job reports its status by calling the portal's xloader_hook back).
    Returns the portal's base URL."""
    loader_user = factories.Sysadmin()
    token = factories.APIToken(user=loader_user["name"])["token"]
    monkeypatch.setitem(ckan_config, "ckanext.xloader.api_token", token)
    # One test after another loads from the same 127.0.0.1: no spacing between them (a test of the spacing
    # sets its own).
    monkeypatch.setitem(ckan_config, "ckanext.communes.datastore.per_host_interval", "0")
    # xloader's jobs read its options once, at plugin load (IConfigurable): a small limit per test goes
    # through ckan_config and ckanext.xloader.jobs.max_content_length alike (see set_max_bytes).
    return live_server


def set_max_bytes(ckan_config: Any, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    from ckanext.xloader import jobs

    monkeypatch.setitem(ckan_config, "ckanext.xloader.max_content_length", str(limit))
    monkeypatch.setattr(jobs, "max_content_length", limit)


def create_dataset(org_id: str, url: str, *, user: str | None = None, private: bool = False,
                   name: str = "equipements") -> dict[str, Any]:
    """A dataset of the commune with one resource at ``url``, its format set as xloader sees it once formats
    are short codes (issue #23 item 1): « CSV »."""
    user = user or helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset = helpers.call_action(
        "package_create", context={"user": user}, name=name, title="Équipements sportifs",
        notes="Les équipements.", theme=[ENVI], owner_org=org_id, license_id="etalab-2.0", private=private,
        resources=[{"url": url, "name": "Équipements", "format": CSV}],
    )
    resource = model.Resource.get(dataset["resources"][0]["id"])
    if resource.format != "CSV":  # the schema of this branch still stores the EU URI: set what xloader reads
        resource.format = "CSV"
        model.Session.commit()
    return dataset


def load(resource_id: str) -> dict[str, Any]:
    """Submit the resource to xloader (as its IResourceController does once formats are short codes) and run
    the job queue as `make run`'s worker does; the resulting xloader_status."""
    from ckan.lib import jobs

    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    helpers.call_action("xloader_submit", context={"user": site_user, "ignore_auth": True},
                        resource_id=resource_id)
    jobs.Worker(["default"]).work(burst=True)
    model.Session.remove()
    return helpers.call_action("xloader_status", context={"ignore_auth": True}, resource_id=resource_id)
