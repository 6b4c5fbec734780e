"""In Chromium, on a checked portal (tests/bilan/test_mqa_action.py: Bron's and Limonest's datasets checked,
400 out of 405 each): the bilan page draws the MQA per group and per commune with Chart.js, on the scale of
405 points, as horizontal bars (screenshot: test-artifacts/screenshots/bilan-mqa.png); axe-core finds nothing
on the bilan page and the dashboard with figures in every MQA cell and chart."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.bilan import cache
from ckanext.communes.tests.bilan.test_mqa_action import portal  # noqa: F401 - fixture
from ckanext.communes.tests.conftest import browser_log_in
from ckanext.communes.tests.test_accessibility import assert_no_violation, audit


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_mqa_charts_are_drawn_on_the_scale_of_405_points(portal, live_server, browser_page,  # noqa: F811
                                                              screenshot):
    cache.bump()
    page = browser_page
    assert page.goto(live_server + "/communes/bilan").status == 200
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-bilan-chart]')]"
        ".every(c => window.Chart.getChart(c))")
    drawn = page.evaluate("""() => ['mqa_by_group', 'mqa_by_commune'].map(key => {
        const canvas = document.getElementById('bilan-chart-' + key);
        const chart = canvas && Chart.getChart(canvas);
        if (!chart) { return null; }
        chart.update();
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0; for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) painted++; }
        return {labels: chart.data.labels, data: chart.data.datasets.map(d => d.data),
                axis: chart.options.indexAxis, top: chart.scales.x.max, painted: painted};
    })""")
    by_group, by_commune = drawn
    assert by_commune["labels"] == ["Bron", "Limonest"] and by_commune["data"] == [[400, 400]]
    assert by_group["data"] == [[400, 400, None, None, 400]]
    for chart in drawn:
        assert chart["axis"] == "y" and chart["top"] >= 405 and chart["painted"] > 1000, chart
    page.locator("#bilan-chart-mqa_by_commune").scroll_into_view_if_needed()
    screenshot("bilan-mqa")


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_bilan_page_and_the_dashboard_with_the_mqa_meet_wcag(portal, live_server, browser_page):  # noqa: F811
    """axe-core (WCAG 2.1 AA) on the pages with figures in every MQA cell and chart: the bilan page, and
    Bron's page as its admin (the dashboard's rating and its link to the points per dimension)."""
    cache.bump()
    page = browser_page
    found = audit(page, live_server, "/communes/bilan")
    user = factories.User(password="Bilan-MQA-2026")
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id="bron",
                        username=user["name"], role="admin")
    browser_log_in(page, live_server, user["name"], "Bilan-MQA-2026")
    found += audit(page, live_server, "/organization/bron")
    assert page.locator(".bilan-dashboard-mqa a").is_visible()
    assert_no_violation(found)
