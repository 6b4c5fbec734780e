"""The table preview in Chromium (issue #23 item 4): a commune editor adds a CSV link (served on 127.0.0.1)
through the resource form, the worker loads it into the DataStore, the table view appears on the resource page,
and an anonymous reuser filters it with the DataTables search box; the search box and the pager are reachable
with the keyboard, and axe-core finds no WCAG 2.1 AA violation on the resource page nor in the preview."""

from __future__ import annotations

from typing import Any

import pytest
from ckan import model
from ckan.lib import jobs
from ckan.tests import helpers

from ckanext.communes.tests.conftest import browser_log_in
from ckanext.communes.tests.dataapi.conftest import DATA_API
from ckanext.communes.tests.shared import ENVI
from ckanext.communes.tests.test_accessibility import AXE, WCAG_TAGS

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader")]

PASSWORD = "correct horse battery staple"
STADES = ["Stade Pierre Duboeuf", "Stade de Parilly"]
# 30 rows: more than the first page of the table (DataTables shows 10 by default), so a pager shows.
ROWS = [*STADES, *(f"Gymnase n° {n}" for n in range(1, 29))]
EQUIPEMENTS = "nom,type\n" + "".join(f"{name},{'stade' if name in STADES else 'gymnase'}\n" for name in ROWS)


def _axe_violations(frame: Any) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA violations in one document (a page or the preview's frame)."""
    frame.add_script_tag(path=str(AXE))
    results = frame.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        list(WCAG_TAGS))
    return [f"{frame.url}: {v['id']} ({v.get('impact')}): {[n['html'][:160] for n in v['nodes']][:5]} — {v['help']}"
            for v in results["violations"]]


def _focused_part(frame: Any) -> str:
    """Which part of the preview has the keyboard focus: "search" (the table's search box), "pager", or ""."""
    return frame.evaluate("""() => {
        const e = document.activeElement;
        if (!e) return '';
        if (e.closest('.dataTables_filter') && e.matches('input')) return 'search';
        if (e.closest('.dataTables_paginate')) return 'pager';
        return '';
    }""")


def test_an_editor_adds_a_csv_link_and_a_reuser_filters_its_preview_by_keyboard(
        loader, bron, bron_editor, source_server, allow_private_addresses, browser_page, screenshot):
    live_server = loader
    source_server.serve("/equipements.csv", EQUIPEMENTS, content_type="text/csv")
    dataset = helpers.call_action(
        "package_create", context={"user": bron_editor["name"]}, name="equipements", title="Équipements sportifs",
        notes="Les équipements.", theme=[ENVI], owner_org=bron["id"], license_id="etalab-2.0")
    page = browser_page

    # The editor adds the CSV link through the resource form (the format guessed from the URL).
    browser_log_in(page, live_server, bron_editor["name"], PASSWORD)
    page.goto(f"{live_server}/dataset/{dataset['name']}/resource/new")
    page.click("#resource-link-button")
    page.fill("#field-resource-url", source_server.url("/equipements.csv"))
    page.fill("#field-name", "Équipements (CSV)")
    screenshot("dataapi-preview-resource-form")
    page.locator('button[name="save"]').last.click()
    page.wait_for_load_state("networkidle")
    resource = helpers.call_action("package_show", id=dataset["id"])["resources"][0]
    assert resource["format"] == "CSV"

    # The worker (as `make run`'s) loads it: the table view is created when the load completes.
    jobs.Worker(["default"]).work(burst=True)
    model.Session.remove()
    status = helpers.call_action("xloader_status", context={"ignore_auth": True}, resource_id=resource["id"])
    assert status["status"] == "complete", status
    assert source_server.requested("/equipements.csv") == 1

    # A reuser, not logged in, sees the table on the resource page and filters it.
    page.context.clear_cookies()
    response = page.goto(f"{live_server}/dataset/{dataset['name']}/resource/{resource['id']}")
    assert response is not None and response.status == 200
    page.wait_for_load_state("networkidle")
    frame = page.frame_locator("iframe").first
    table = frame.locator("table#dtprv")
    table.locator("tbody tr").first.wait_for()
    assert table.locator("tbody tr").count() < len(ROWS)  # paged
    screenshot("dataapi-preview-table")

    # Keyboard: Tab from the top of the page reaches the table's search box, then its pager.
    preview = next(f for f in page.frames if "/view/" in f.url)
    page.locator("body").focus()
    reached_search = reached_pager = False
    for _ in range(250):
        page.keyboard.press("Tab")
        focused = _focused_part(preview)
        if focused == "search":
            reached_search = True
        if reached_search and focused == "pager":
            reached_pager = True
            break
    assert reached_search, "the preview's search box is not reachable with Tab"
    assert reached_pager, "the preview's pager is not reachable with Tab"

    search = frame.locator(".dataTables_filter input")
    search.focus()
    page.keyboard.type("stade")
    page.keyboard.press("Enter")  # CKAN's table view searches on Enter (a request to the Data API per search)
    frame.locator(".dataTables_info").filter(has_text="2").wait_for()
    frame.locator("tbody tr").filter(has_text="Stade de Parilly").wait_for()
    shown = frame.locator("table#dtprv tbody tr").all_inner_texts()
    assert len(shown) == 2 and all("stade" in row for row in shown), shown
    screenshot("dataapi-preview-table-filtered")

    problems = _axe_violations(page) + _axe_violations(preview)
    assert problems == [], "\n".join(problems)
