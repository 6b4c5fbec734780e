"""SCDL conformance (quality/scdl.py): a CSV resource of a dataset that declares a schema of
schema.data.gouv.fr is downloaded from a real HTTP server (127.0.0.1) through the guarded client and
validated with frictionless against the schema shipped in the package; the report is stored and shown on
the resource page in French."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.quality import evidence, options, scdl, scdl_schemas
from ckanext.communes.tests.shared import CSV, ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")

DATA = pathlib.Path(__file__).resolve().parent / "data" / "scdl"
SUBVENTIONS = "https://schema.data.gouv.fr/scdl/subventions/"
VALID_CSV = (DATA / "subventions-valid.csv").read_bytes()  # the publisher's example, 29 rows
LINES = VALID_CSV.decode("utf-8").splitlines(keepends=True)


def _broken(line_index: int) -> bytes:
    """The valid file with one SIRET (idAttribuant, 14 digits) cut short on the given data line."""
    lines = list(LINES)
    lines[line_index] = lines[line_index].replace("21060004500392", "12345", 1)
    assert lines[line_index] != LINES[line_index]
    return "".join(lines).encode("utf-8")


def _dataset(org_id: str, url: str, *, conforms_to: list[str] | None = None,
             resource_conforms_to: list[str] | None = None, name: str = "subventions") -> dict[str, Any]:
    user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    resource: dict[str, Any] = {"url": url, "name": "Subventions 2017", "format": CSV}
    if resource_conforms_to is not None:
        resource["conforms_to"] = resource_conforms_to
    extra = {"conforms_to": conforms_to} if conforms_to is not None else {}
    return helpers.call_action(
        "package_create", context={"user": user}, name=name, title="Subventions versées", notes="Les subventions.",
        theme=[ENVI], owner_org=org_id, license_id="etalab-2.0", resources=[resource], **extra,
    )


def _only_result(dataset: dict[str, Any]) -> evidence.ScdlResult:
    results = evidence.scdl_results_for(dataset["id"])
    assert list(results) == [dataset["resources"][0]["id"]]
    return results[dataset["resources"][0]["id"]]


def test_the_shipped_schemas_load_and_the_bal_schema_is_left_out():
    codes = {schema.code for schema in scdl_schemas._shipped()}
    assert {"scdl/subventions", "scdl/deliberations", "scdl/budget", "etalab/schema-irve-statique"} <= codes
    assert "etalab/schema-bal" not in codes  # CC BY-NC-ND in the file itself: not redistributed
    assert scdl_schemas.shipped_schema("https://schema.data.gouv.fr/schemas/scdl/subventions/2.1.1/schema.json").code \
        == "scdl/subventions"
    assert scdl_schemas.shipped_schema("scdl/deliberations").code == "scdl/deliberations"
    assert scdl_schemas.shipped_schema("https://schema.data.gouv.fr/etalab/schema-bal/") is None
    assert scdl_schemas.shipped_schema("https://example.org/my-schema.json") is None


def test_a_valid_csv_is_reported_conforming(bron, source_server):
    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), conforms_to=[SUBVENTIONS])
    scdl.validate_dataset_now(dataset["id"])
    result = _only_result(dataset)
    assert result.valid is True
    assert result.schema_url == SUBVENTIONS
    assert (result.error_count, result.errors_by_type, result.first_errors, result.error) == (0, {}, [], None)
    assert result.rows_checked == 29 and not result.truncated
    assert result.checked_at is not None


def test_an_invalid_csv_is_reported_with_its_errors_by_type_and_the_first_errors_in_french(bron, source_server):
    body = _broken(1).replace(b"aide en num\xc3\xa9raire", b"cadeau", 1)  # nature: not in its enum
    source_server.serve("/subventions.csv", body, content_type="text/csv")
    # The schema declared on the resource itself, the dataset declaring none.
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), resource_conforms_to=[SUBVENTIONS])
    scdl.validate_dataset_now(dataset["id"])
    result = _only_result(dataset)
    assert result.valid is False
    assert result.error_count == 2
    assert result.errors_by_type == {"constraint-error": 2}
    first = result.first_errors[0]
    assert (first["type"], first["row"], first["field"], first["cell"]) == (
        "constraint-error", 2, "idAttribuant", "12345")
    assert first["label"] == "Valeur non conforme à une contrainte"
    assert {e["field"] for e in result.first_errors} == {"idAttribuant", "nature"}


def test_a_resource_without_scdl_schema_is_ignored(bron, source_server):
    source_server.serve("/data.csv", VALID_CSV, content_type="text/csv")
    plain = _dataset(bron["id"], source_server.url("/data.csv"), name="sans-schema")
    other = _dataset(bron["id"], source_server.url("/data.csv"), name="autre-schema",
                     conforms_to=["https://example.org/schemas/mine.json"])
    for dataset in (plain, other):
        assert scdl.enqueue_dataset(dataset["id"]) == 0
        scdl.validate_dataset_now(dataset["id"])
        assert evidence.scdl_results_for(dataset["id"]) == {}
    assert source_server.requests == []  # not even downloaded


def test_a_csv_over_the_row_cap_is_validated_on_its_first_rows_and_says_so(bron, source_server, ckan_config,
                                                                            monkeypatch):
    monkeypatch.setitem(ckan_config, options.SCDL_MAX_ROWS_OPTION, "5")
    # An error on data row 20, past the cap: not seen, and the report says only 5 rows were read.
    source_server.serve("/subventions.csv", _broken(20), content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), conforms_to=[SUBVENTIONS])
    scdl.validate_dataset_now(dataset["id"])
    result = _only_result(dataset)
    assert result.valid is True
    assert result.rows_checked == 5
    assert result.truncated is True


@pytest.mark.parametrize("case", ["missing", "oversize", "not_csv"])
def test_an_unreadable_or_oversize_file_stores_an_error_instead_of_crashing(case, bron, source_server,
                                                                           ckan_config, monkeypatch):
    if case == "missing":
        source_server.fail("/subventions.csv", status=404)
    elif case == "oversize":
        monkeypatch.setitem(ckan_config, options.SCDL_MAX_BYTES_OPTION, "1000")
        source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    else:  # bytes that are no text at all
        source_server.serve("/subventions.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
                            content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), conforms_to=[SUBVENTIONS])
    scdl.validate_dataset_now(dataset["id"])
    result = _only_result(dataset)
    assert result.valid is None  # no verdict on a file that could not be read
    if case == "not_csv":
        assert result.errors_by_type == {"encoding-error": 1}
        assert "CSV" in result.error and "Encodage des caractères illisible" in result.error
    else:
        assert result.error and "subventions.csv" in result.error  # the guarded client's French message
    assert result.checked_at is not None


def test_the_job_runs_through_the_real_queue_with_a_worker(bron, source_server):
    from ckan.lib import jobs

    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), conforms_to=[SUBVENTIONS])
    jobs.get_queue().empty()
    assert scdl.enqueue_dataset(dataset["id"]) == 1
    assert evidence.scdl_results_for(dataset["id"]) == {}  # queued, not run: nothing waited for the download
    [job] = jobs.get_queue().jobs
    assert job.func_name.endswith("validate_resource_job")
    jobs.Worker().work(burst=True)
    assert _only_result(dataset).valid is True


def test_after_a_change_only_resources_whose_url_or_schema_changed_are_queued(bron, source_server):
    """The SCDL step of the dataset's quality job (background.py), on the dataset as saved."""
    from ckan.lib import jobs

    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    source_server.serve("/v2.csv", _broken(1), content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), conforms_to=[SUBVENTIONS])
    scdl.validate_dataset_now(dataset["id"])
    # A change of the dataset's description leaves the resource as it was: nothing to validate again.
    user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    updated = helpers.call_action("package_patch", context={"user": user}, id=dataset["id"], notes="Autre texte.")
    jobs.get_queue().empty()  # the save's own quality job
    assert scdl.enqueue_changed(dataset["id"]) == 0
    assert jobs.get_queue().jobs == []
    # A new URL: queued, and the worker stores the new verdict.
    resource = dict(updated["resources"][0], url=source_server.url("/v2.csv"))
    helpers.call_action("package_patch", context={"user": user}, id=dataset["id"], resources=[resource])
    jobs.get_queue().empty()
    assert scdl.enqueue_changed(dataset["id"]) == 1
    [job] = jobs.get_queue().jobs
    assert job.func_name.endswith("validate_resource_job") and job.args == [dataset["id"], resource["id"]]
    jobs.Worker().work(burst=True)
    assert _only_result(dataset).valid is False
    # The schema withdrawn from the dataset: its result is forgotten, nothing queued.
    helpers.call_action("package_patch", context={"user": user}, id=dataset["id"], conforms_to=[])
    jobs.get_queue().empty()
    assert scdl.enqueue_changed(dataset["id"]) == 0
    assert evidence.scdl_results_for(dataset["id"]) == {}
    assert jobs.get_queue().jobs == []


def test_the_resource_page_shows_the_french_report(app, bron, source_server):
    source_server.serve("/ok.csv", VALID_CSV, content_type="text/csv")
    source_server.serve("/ko.csv", _broken(1), content_type="text/csv")
    good = _dataset(bron["id"], source_server.url("/ok.csv"), conforms_to=[SUBVENTIONS], name="bonnes")
    bad = _dataset(bron["id"], source_server.url("/ko.csv"), conforms_to=[SUBVENTIONS], name="mauvaises")
    for dataset in (good, bad):
        scdl.validate_dataset_now(dataset["id"])

    page = app.get(f"/dataset/{good['name']}/resource/{good['resources'][0]['id']}").body
    assert "Conforme au schéma « Subventions »" in page

    page = app.get(f"/dataset/{bad['name']}/resource/{bad['resources'][0]['id']}").body
    assert "1 erreur au regard du schéma « Subventions »" in page
    assert "Valeur non conforme à une contrainte (1)" in page
    assert "ligne 2, colonne « idAttribuant » : Valeur non conforme à une contrainte" in page
    assert "valeur « 12345 »" in page
