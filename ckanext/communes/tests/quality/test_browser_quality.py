"""A commune editor in Chromium sees a missed quality criterion on her dataset's page with what to do,
fixes the dataset through the edit form, and sees the score rise."""

from __future__ import annotations

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.quality.test_score import LONG_NOTES, dataset_fields
from ckanext.communes.tests.schema.test_browser_dataset_form import _log_in

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


def _score(page) -> int:
    return int(page.locator("#communes-quality").get_attribute("data-quality-score"))


def test_commune_editor_sees_a_missed_criterion_fixes_it_and_sees_the_score_rise(
    live_server, browser_page, screenshot, sysadmin, bron, bron_editor
):
    helpers.call_action("package_create", context={"user": sysadmin["name"]},
                        **dataset_fields(bron, "arbres", notes="Les arbres de la commune."))
    page = browser_page
    _log_in(page, live_server, bron_editor["name"])

    page.goto(live_server + "/dataset/arbres")
    block = page.locator("#communes-quality")
    missed = block.locator('.communes-quality-missed [data-criterion="description"]')
    assert missed.count() == 1
    assert "au moins 100 caractères" in missed.inner_text()
    before = _score(page)
    screenshot("quality-dataset-missed-description")

    page.goto(live_server + "/dataset/edit/arbres")
    page.fill("#field-notes", LONG_NOTES)
    screenshot("quality-dataset-edit-description")
    with page.expect_navigation():
        page.locator('button[name="save"]').last.click()
    page.wait_for_load_state("networkidle")
    assert page.url.rstrip("/").endswith("/dataset/arbres"), page.url

    assert page.locator('#communes-quality .communes-quality-missed [data-criterion="description"]').count() == 0
    assert page.locator('#communes-quality .communes-quality-met [data-criterion="description"]').count() == 1
    assert _score(page) == before + 10
    screenshot("quality-dataset-score-risen")

    page.goto(live_server + "/organization/bron")
    assert page.locator("#communes-commune-quality").count() == 1
    screenshot("quality-commune-page")
