"""A seeded portal for the bilan tests, every figure of which is computed by hand in expected.py.

Organisations (seeded from the communes file): the Métropole, Bron (phase 1, 400 agents, convention
signed 2024-06-01), Lyon (phase 1), Limonest (phase 2, no dataset: obliged, nothing published), Albigny
(candidate, under 3,500 inhabitants), Oullins-Pierre-Bénite (no status, 40 agents: not obliged, no
dataset), Grigny-sur-Rhône (generalisation). The other 52 communes of the registry have no organisation.

Datasets (the quality criteria each meets are listed in expected.py), created through package_create, their
metadata_created then set in the database and reindexed:

    B1 Bron   manual        etalab-2.0  ANNUAL, modified recently (respected)  link ok      2024-03-10
                                        SCDL subventions, valid
    B2 Bron   harvested S1  CC-BY-4.0   MONTHLY, modified 2024-01-01 (late)    link broken  2024-07-15
    B3 Bron   manual        ODbL-1.0    no frequency                           not checked  2024-07-20
                                        SCDL deliberations, invalid
    L1 Lyon   harvested S2  etalab-2.0  UNKNOWN (not a declaration)            not checked  2023-01-05
    L2 Lyon   private (not counted; a broken link that must not count either)
    L3 Lyon   deleted (not counted)
    A1 Albigny manual       no licence                                         not checked  2022-05-02
    G1 Grigny manual        etalab-2.0  NEVER (declared, always respected)     not checked  2025-01-10
    M1 Métropole (not a commune: in no row)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ckan import model
from ckan.lib import search
from ckan.tests import factories, helpers

from ckanext.communes.bilan import cache
from ckanext.communes.communes import seeding
from ckanext.communes.tests import portal_snapshot
from ckanext.communes.tests.communes.conftest import FEW, make_people, write_communes_csv
from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - fixtures re-exported (a real harvest)
    _source_server_instance,
    allow_private_addresses,
    source_server,
)
from ckanext.communes.tests.shared import CSV, EU

NOTES = ("Inventaire des subventions et délibérations de la commune : montants, bénéficiaires, dates et objets, "
         "tenu à jour par le service des finances.")
SCDL_SUBVENTIONS = "https://schema.data.gouv.fr/scdl/subventions/"
SCDL_DELIBERATIONS = "https://schema.data.gouv.fr/scdl/deliberations/"
TODAY = dt.date(2025, 3, 1)
CREATED = {
    "b1": dt.datetime(2024, 3, 10, 9), "b2": dt.datetime(2024, 7, 15, 9), "b3": dt.datetime(2024, 7, 20, 9),
    "l1": dt.datetime(2023, 1, 5, 9), "l2": dt.datetime(2023, 2, 5, 9), "a1": dt.datetime(2022, 5, 2, 9),
    "g1": dt.datetime(2025, 1, 10, 9), "m1": dt.datetime(2024, 1, 1, 9),
}
ORG_EXTRAS = {
    "bron": {"agents_fte": "400", "convention_signed": "2024-06-01"},
    "albigny-sur-saone": {"partner_status": "candidate"},
    "oullins-pierre-benite": {"agents_fte": "40"},
    "grigny-sur-rhone": {"partner_status": "generalisation"},
}


def dataset(name: str, org: str, **fields: Any) -> dict[str, Any]:
    """Meets dcat_properties, description, theme, open_format; misses shacl (never checked), spatial,
    temporal, contact; the rest depends on ``fields``."""
    return {
        "name": name, "title": f"Jeu {name}", "notes": NOTES, "owner_org": org, "tag_string": "finances",
        "theme": [f"{EU}/data-theme/GOVE"],
        "resources": [{"url": f"https://data.example.org/{name}.csv", "name": "CSV", "format": CSV}],
        **fields,
    }


def _frequency(code: str) -> str:
    return f"{EU}/frequency/{code}"


def _harvest_source(sysadmin: str, name: str, title: str, owner: str) -> str:
    return helpers.call_action("harvest_source_create", context={"user": sysadmin}, name=name, title=title,
                               url=f"https://{name}.example.org/catalog.ttl", source_type="communes_dcat",
                               owner_org=owner)["id"]


def mark_harvested(package_id: str, source_id: str, state: str = "COMPLETE", current: bool = True) -> None:
    """What a harvest leaves behind: a job and a harvest object of the source pointing at the dataset."""
    from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

    job = HarvestJob(source=HarvestSource.get(source_id), status="Finished")
    model.Session.add(job)
    model.Session.add(HarvestObject(guid=f"guid-{package_id}", job=job, source=job.source, package_id=package_id,
                                    current=current, state=state, import_started=dt.datetime.utcnow()))
    model.Session.commit()


def add_link_check(package_id: str, ok: bool) -> None:
    from ckanext.communes.quality.models import LinkCheck

    resource = model.Package.get(package_id).resources[0]
    model.Session.add(LinkCheck(resource_id=resource.id, package_id=package_id, url=resource.url,
                                status=200 if ok else 404, error=None if ok else "http_status",
                                checked_at=dt.datetime.utcnow(), consecutive_failures=0 if ok else 1))
    model.Session.commit()


def add_scdl_validation(package_id: str, schema_url: str, valid: bool) -> None:
    from ckanext.communes.quality.models import ScdlValidation

    resource = model.Package.get(package_id).resources[0]
    model.Session.add(ScdlValidation(resource_id=resource.id, package_id=package_id, schema_url=schema_url,
                                     valid=valid, error_count=0 if valid else 3, checked_at=dt.datetime.utcnow()))
    model.Session.commit()


def set_created(package_id: str, when: dt.datetime) -> None:
    package = model.Package.get(package_id)
    package.metadata_created = when
    model.Session.commit()


def build_portal() -> dict[str, Any]:
    """The portal described above, on a database and index just reset. Returns ids by short name."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        seeding.seed(path=str(write_communes_csv(Path(folder) / "few.csv", FEW)))
    sysadmin = factories.Sysadmin()["name"]
    admin = {"user": sysadmin}
    for org, extras in ORG_EXTRAS.items():
        helpers.call_action("organization_patch", context=admin, id=org, **extras)
    # The harvest flag lets the licences the policy refuses by hand (CC-BY, none) in, as a harvester would.
    harvest = {"user": sysadmin, "communes_harvest": True}
    recent = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    made = {
        "b1": (admin, dataset("b1", "bron", license_id="etalab-2.0", frequency=_frequency("ANNUAL"), modified=recent,
                                conforms_to=[SCDL_SUBVENTIONS])),
        "b2": (harvest, dataset("b2", "bron", license_id="CC-BY-4.0", frequency=_frequency("MONTHLY"),
                                  modified="2024-01-01")),
        "b3": (admin, dataset("b3", "bron", license_id="ODbL-1.0", conforms_to=[SCDL_DELIBERATIONS])),
        "l1": (admin, dataset("l1", "lyon", license_id="etalab-2.0", frequency=_frequency("UNKNOWN"))),
        "l2": (admin, dataset("l2", "lyon", license_id="etalab-2.0", private=True)),
        "l3": (admin, dataset("l3", "lyon", license_id="etalab-2.0")),
        "a1": (harvest, dataset("a1", "albigny-sur-saone")),
        "g1": (admin, dataset("g1", "grigny-sur-rhone", license_id="etalab-2.0", frequency=_frequency("NEVER"))),
        "m1": (admin, dataset("m1", "metropole-de-lyon", license_id="etalab-2.0")),
    }
    ids = {short: helpers.call_action("package_create", context=dict(context), **data)["id"]
           for short, (context, data) in made.items()}
    helpers.call_action("package_delete", context=admin, id=ids["l3"])
    sources = {"s1": _harvest_source(sysadmin, "portail-bron", "Portail de Bron", "bron"),
               "s2": _harvest_source(sysadmin, "data-grand-lyon", "Data Grand Lyon", "metropole-de-lyon")}
    mark_harvested(ids["b2"], sources["s1"])
    mark_harvested(ids["l1"], sources["s2"])
    add_link_check(ids["b1"], ok=True)
    add_link_check(ids["b2"], ok=False)
    add_link_check(ids["l2"], ok=False)
    add_scdl_validation(ids["b1"], SCDL_SUBVENTIONS, valid=True)
    add_scdl_validation(ids["b3"], SCDL_DELIBERATIONS, valid=False)
    for short, when in CREATED.items():
        set_created(ids[short], when)
    for package_id in ids.values():
        search.rebuild(package_id)
    return {"ids": ids, "sources": sources, "sysadmin": sysadmin}


@pytest.fixture(autouse=True)
def _fresh_bilan_cache() -> None:
    """A database reset indexes nothing: without a bump, a bilan cached by an earlier test would answer."""
    cache.bump()


@pytest.fixture
def portal(clean_db, clean_index) -> dict[str, Any]:
    """The portal, for this test alone (which may change it): built once in the session, put back from a copy
    for the next tests (portal_snapshot.py)."""
    return portal_snapshot.restored("bilan_portal", build_portal)


def _build_shared_portal() -> dict[str, Any]:
    built = build_portal()
    built["people"] = make_people()
    return built


@pytest.fixture(scope="module")
def shared_portal() -> dict[str, Any]:
    """The portal built once per module, with the people of the permission matrix (communes/conftest.py):
    tests using it must not change its datasets."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        built = portal_snapshot.restored("bilan_shared_portal", _build_shared_portal)
        cache.bump()
        return built
