"""Fixtures of the schedule's tests: the harvest tests' real HTTP server on 127.0.0.1 (and the switch that lets
our guarded client reach it), the commune fixtures of the schema tests, a clock the tests advance, and the
schedule's Redis keys emptied around each test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - fixtures re-exported
    _source_server_instance,
    allow_private_addresses,
    source_server,
)
from ckanext.communes.tests.schema.conftest import bron, sysadmin  # noqa: F401


class Clock:
    """The schedule's clock (naive UTC), moved by the test instead of sleeping."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clean_schedule(ckan_config) -> Iterator[None]:
    """No status, lock or queue marker of the schedule left by another test (same Redis)."""
    from ckanext.communes.schedule import store

    def purge() -> None:
        client = store.redis_client()
        keys = client.keys(store.prefix() + ":*")
        if keys:
            client.delete(*keys)
    purge()
    yield
    purge()
