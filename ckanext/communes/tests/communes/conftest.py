"""Fixtures of the communes tests: a few seeded communes (fast) and the people of the permission matrix."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import registry, seeding

# Bron (phase 1 pilot), Limonest (phase 2), Lyon (phase 1, arrondissements), Albigny (< 3,500 inhabitants),
# Oullins-Pierre-Bénite (merged 2024) and Grigny-sur-Rhône (renamed 2025).
FEW = ("69029", "69116", "69123", "69003", "69149", "69096")


def write_communes_csv(path: pathlib.Path, codes: tuple[str, ...] | None = None) -> pathlib.Path:
    """A copy of the bundled data file, restricted to `codes` (all when None)."""
    lines = pathlib.Path(registry.DATA_FILE).read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if codes is None or line.split(",", 1)[0] in codes]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def few_communes(clean_db, clean_index, tmp_path) -> dict[str, dict[str, Any]]:
    """The Métropole and six communes seeded from a subset of the data file; organisations by name."""
    seeding.seed(path=str(write_communes_csv(tmp_path / "few.csv", FEW)))
    return {name: helpers.call_action("organization_show", id=name)
            for name in helpers.call_action("organization_list")}


@dataclass
class People:
    sysadmin: dict[str, Any]
    operator: dict[str, Any]  # admin of the Métropole's organisation
    commune_admin: dict[str, Any]  # admin of Bron
    commune_editor: dict[str, Any]  # editor of Bron
    other_admin: dict[str, Any]  # admin of Lyon

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        return factories.APIToken(user=getattr(self, role)["name"])["token"]


ROLES = ("sysadmin", "operator", "commune_admin", "commune_editor", "other_admin", "anonymous")


def make_people() -> People:
    sysadmin = factories.Sysadmin()
    operator, commune_admin, commune_editor, other_admin = (factories.User() for _ in range(4))
    context = {"user": sysadmin["name"]}
    for org, user, role in (
        ("metropole-de-lyon", operator, "admin"),
        ("bron", commune_admin, "admin"),
        ("bron", commune_editor, "editor"),
        ("lyon", other_admin, "admin"),
    ):
        helpers.call_action("organization_member_create", context=context, id=org,
                            username=user["name"], role=role)
    return People(sysadmin, operator, commune_admin, commune_editor, other_admin)


@pytest.fixture
def people(few_communes) -> People:
    """A clean database with a few communes and the people of the permission matrix."""
    return make_people()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> People:
    """Like `people`, but set up once per test module (a database reset costs seconds here).

    Tests using it must only assert what they change themselves (compare before/after, set a value of
    their own): other tests of the module run on the same organisations. Built once in the session, put back
    from a copy for the next modules (portal_snapshot.py)."""
    from ckanext.communes.tests import portal_snapshot
    from ckanext.communes.tests.conftest import module_database

    def build() -> People:
        seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("communes") / "few.csv", FEW)))
        return make_people()

    with module_database():
        return portal_snapshot.restored("communes_world", build)


def api_post(app: Any, action: str, data: dict[str, Any], token: str | None, status: int | None = None) -> Any:
    headers = {"Authorization": token} if token else {}
    return app.post(f"/api/3/action/{action}", json=data, headers=headers, status=status)
