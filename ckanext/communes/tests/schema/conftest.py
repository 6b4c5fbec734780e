"""Fixtures of the dataset-schema tests: a commune organisation with its profile, an editor."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import factories

from ckanext.communes.tests.shared import BRON


@pytest.fixture
def sysadmin() -> dict[str, Any]:
    return factories.Sysadmin()


@pytest.fixture
def bron(sysadmin) -> dict[str, Any]:
    """The organisation of Bron with the commune profile the dataset defaults come from."""
    return factories.Organization(user=sysadmin, **BRON)


@pytest.fixture
def bron_editor(bron) -> dict[str, Any]:
    user = factories.User(name="editeur-bron", password="correct horse battery staple")
    from ckan.tests import helpers

    helpers.call_action(
        "organization_member_create", context={"ignore_auth": True},
        id=bron["id"], username=user["name"], role="editor",
    )
    return user
