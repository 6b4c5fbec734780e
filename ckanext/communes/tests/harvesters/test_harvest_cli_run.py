"""`ckan communes harvest run SOURCE --sync` says why a job failed: each gather error of the job (what
``harvest_job_show`` returns as ``gather_error_summary``) is printed, and the exit status is 2. A real
source on the fixture server answers 404, through the real CLI, database and Redis."""

from __future__ import annotations

import pytest
from ckan.tests import factories

from ckanext.communes.communes import seeding
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES, make_source

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses", "clean_queues")


def test_a_synchronous_run_prints_its_gather_errors_and_exits_2(cli, tmp_path, source_server):
    from ckan.cli.cli import ckan

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    source = make_source({"sysadmin": factories.Sysadmin()}, source_server.url("/disparu/catalog.ttl"))
    source_server.fail("/disparu/catalog.ttl", status=404, body="Not Found")

    result = cli.invoke(ckan, ["communes", "harvest", "run", source["name"], "--sync"])

    assert result.exit_code == 2, result.output
    gather_errors = [line.strip() for line in result.output.splitlines() if line.strip().startswith("gather error:")]
    assert gather_errors == [
        f"gather error: {source_server.url('/disparu/catalog.ttl')} : le serveur a répondu HTTP 404"], result.output
    assert "errored: 1" in result.output
