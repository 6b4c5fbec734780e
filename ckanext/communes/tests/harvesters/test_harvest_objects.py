"""The core's harvest objects, through a real udata source (fixture server on 127.0.0.1, PostgreSQL, Solr):
what the gather writes for the fetch and import stages, how an import reads it back, and a run that goes
on after a dataset the schema refuses."""

from __future__ import annotations

import datetime
import json

import pytest
from ckan import model

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.base import HASH_KEY, STATUS_KEY, harvester_for
from ckanext.communes.harvesters.mapping import content_hash
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_udata_source import (
    COMMUNES,
    RemoteUdata,
    fixture_datasets,
    make_source,
)
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectError

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture
def portal(tmp_path):
    from ckan.tests import factories

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def test_the_gather_writes_each_object_waiting_for_its_job_with_its_decision_and_hash(portal, source_server):
    remote = RemoteUdata(source_server, fixture_datasets(source_server))
    source = make_source(portal, remote.url, {"page_size": 4})  # two pages: 4 + 2 datasets
    job = HarvestJob.get(jobs.create_job(source["id"]))
    before = datetime.datetime.utcnow()
    object_ids = queue.gather_stage(harvester_for("communes_udata"), job)

    objects = model.Session.query(HarvestObject).filter(HarvestObject.harvest_job_id == job.id).all()
    assert sorted(o.id for o in objects) == sorted(object_ids) and len(objects) == 6
    assert sorted(o.guid for o in objects) == sorted(d["id"] for d in fixture_datasets(source_server))
    for obj in objects:
        assert (obj.harvest_source_id, obj.state, obj.current, obj.package_id) == (source["id"], "WAITING", False,
                                                                                    None)
        assert before - datetime.timedelta(seconds=1) <= obj.gathered <= datetime.datetime.utcnow()
        extras = {e.key: e.value for e in obj.extras}
        dataset = json.loads(obj.content)
        assert extras == {STATUS_KEY: "create", HASH_KEY: content_hash(dataset)}
    titles = {json.loads(o.content)["title"] for o in objects}
    assert "Arbres d'alignement de Bron" in titles and "Réseau d'eau du syndicat" in titles


def test_a_dataset_the_schema_refuses_is_an_error_and_the_next_ones_of_the_page_are_imported(portal, source_server):
    datasets = fixture_datasets(source_server)
    datasets[1]["title"] = "   "  # no title: our schema refuses the dataset, nothing can stand for it
    remote = RemoteUdata(source_server, datasets)
    source = make_source(portal, remote.url, {"page_size": 10})  # one page, one import batch
    job = jobs.run_source(source["id"])

    assert job["status"] == "Finished"
    assert (job["stats"]["added"], job["stats"]["errored"]) == (5, 1)
    assert sorted(harvested(source["id"])) == sorted(d["title"] for d in datasets if d["title"].strip())
    refused = (model.Session.query(HarvestObject)
               .filter(HarvestObject.harvest_job_id == job["id"], HarvestObject.guid == datasets[1]["id"]).one())
    assert (refused.state, refused.report_status, refused.current) == ("ERROR", "errored", False)
    errors = model.Session.query(HarvestObjectError).filter(HarvestObjectError.harvest_object_id == refused.id).all()
    assert [e.message for e in errors] == ['The dataset was refused: {"Title": "Missing value"}']


def test_an_object_without_our_status_updates_the_current_dataset_and_takes_its_place(portal, source_server):
    datasets = fixture_datasets(source_server)
    remote = RemoteUdata(source_server, datasets)
    source = make_source(portal, remote.url)
    first = jobs.run_source(source["id"])
    guid = datasets[0]["id"]
    current = (model.Session.query(HarvestObject)
               .filter(HarvestObject.guid == guid, HarvestObject.current.is_(True)).one())
    package_id, name = current.package_id, model.Package.get(current.package_id).name
    changed = {**json.loads(current.content), "title": "Arbres d'alignement de Bron (2025)"}
    # An object another harvester could have written: no status extra, no package id.
    foreign = HarvestObject(guid=guid, job=HarvestJob.get(first["id"]), harvest_source_id=source["id"],
                            content=json.dumps(changed, ensure_ascii=False))
    model.Session.add(foreign)
    model.Session.commit()

    assert harvester_for("communes_udata").import_stage(foreign) is True
    model.Session.commit()

    package = model.Package.get(package_id)
    assert (package.title, package.name, package.state) == ("Arbres d'alignement de Bron (2025)", name, "active")
    model.Session.refresh(current)
    assert (current.current, foreign.current, foreign.package_id) == (False, True, package_id)
    assert model.Session.query(model.Package).filter(model.Package.type == "dataset").count() == 6


def test_a_new_dataset_is_named_after_its_title_and_numbered_when_the_name_is_taken(portal, source_server):
    from ckan.tests import helpers

    helpers.call_action("package_create", context={"user": portal["sysadmin"]["name"]},  # not from the source
                        name="bancs-publics-doullins-pierre-benite", title="Un autre jeu", notes="n",
                        owner_org="metropole-de-lyon", theme=["ENVI"])
    datasets = fixture_datasets(source_server)
    datasets[1]["title"] = datasets[0]["title"]  # two remote datasets with one title (munged: no apostrophe)
    source = make_source(portal, RemoteUdata(source_server, datasets).url)
    jobs.run_source(source["id"])

    names = {(o.guid, model.Package.get(o.package_id).name) for o in model.Session.query(HarvestObject)
             .filter(HarvestObject.harvest_source_id == source["id"], HarvestObject.current.is_(True))}
    assert {name for guid, name in names if guid in (datasets[0]["id"], datasets[1]["id"])} == {
        "arbres-dalignement-de-bron", "arbres-dalignement-de-bron1"}
    assert (datasets[2]["id"], "bancs-publics-doullins-pierre-benite1") in names  # the free name was taken
    assert (datasets[3]["id"], "qualite-de-lair-a-bron-et-villeurbanne") in names
