"""In Chromium, on a seeded portal (datasets in communes of phase 1, phase 2, generalisation and non-partners):
the bilan page with its four charts drawn by Chart.js, printed as a report; an operator freezes a bilan with the
form and compares it with today after a change; Bron's admin sees the commune's dashboard. Screenshots in
test-artifacts/screenshots/bilan-*.png, the printed report in test-artifacts/bilan-report.pdf."""

from __future__ import annotations

import json
import re

import pytest
from ckan.tests import helpers

from ckanext.communes.bilan import indicators
from ckanext.communes.tests.bilan.test_pages import PASSWORD, dataset_fields, seeded  # noqa: F401 - fixture
from ckanext.communes.tests.conftest import SCREENSHOTS, browser_log_in

CHART_KEYS = ["datasets_over_time", "quality_histogram", "licence_compliance", "scdl_coverage"]


@pytest.fixture
def site(seeded, live_server) -> str:  # noqa: F811 - the imported fixture
    return live_server


def _log_in(page, base: str, user: dict) -> None:
    browser_log_in(page, base, user["name"], PASSWORD)


def _whole_page(page, screenshot, name: str) -> None:
    """A full-page screenshot with the viewport as tall as the page first: otherwise the capture resizes the
    viewport and Chart.js redraws the charts at a passing size."""
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": height})
    page.wait_for_timeout(300)  # Chart.js redraws on the resize observer's next frame
    screenshot(name)
    page.set_viewport_size({"width": 1280, "height": 1000})


def _wait_for_charts(page) -> None:
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-bilan-chart]')]"
        ".every(c => window.Chart.getChart(c))")


def test_bilan_page_draws_its_charts_from_the_portal_and_prints_as_a_report(site, browser_page, screenshot):
    page = browser_page
    assert page.goto(site + "/communes/bilan").status == 200
    _wait_for_charts(page)
    drawn = page.evaluate("""() => [...document.querySelectorAll('canvas[data-bilan-chart]')].map(c => {
        const chart = Chart.getChart(c);
        return {id: c.id, type: chart.config.type, width: c.width, height: c.height,
                labels: chart.data.labels, data: chart.data.datasets.map(d => d.data)};
    })""")
    assert [d["id"] for d in drawn] == [f"bilan-chart-{key}" for key in CHART_KEYS]
    assert [d["type"] for d in drawn] == ["line", "bar", "bar", "bar"]
    assert all(d["width"] > 200 and d["height"] > 100 for d in drawn)
    # The charts draw the numbers of their tables: the phases' cumulative datasets end at 5, 1, 1 and 1.
    timeline = drawn[0]
    assert [series[-1] for series in timeline["data"]] == [5, 1, 1, 1]
    licence = drawn[2]
    assert licence["data"] == [[80.0, 100.0, 100.0, 100.0, 87.5]]
    assert page.evaluate("() => Chart.getChart(document.getElementById('bilan-chart-licence_compliance'))"
                         ".options.indexAxis") == "y"  # horizontal bars: the groups' names stay readable
    # The canvas is not blank: Chart.js painted pixels on it.
    painted = page.evaluate("""() => {
        const c = document.getElementById('bilan-chart-licence_compliance');
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let count = 0; for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) count++; }
        return count;
    }""")
    assert painted > 1000
    assert page.locator("h1").inner_text() == "Bilan du programme d'ouverture des données des communes"
    assert page.locator('[data-figure="datasets"] .bilan-figure-value').inner_text() == "8"
    # The text alternative opens under the chart.
    page.locator("#bilan-chart-licence_compliance-figure summary").click()
    assert page.locator('table[data-chart-table="licence_compliance"]').is_visible()
    _whole_page(page, screenshot, "bilan-page")

    page.emulate_media(media="print")
    assert not page.locator("header.masthead").is_visible()
    assert not page.locator("#bilan-picker").is_visible()
    assert page.locator(".bilan-printed-on").is_visible()
    assert page.locator("#bilan-communes table").is_visible()
    # Charts sized for an A4 page: at most 180 mm wide (680 CSS pixels).
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.bilan-chart')].map(f => f.getBoundingClientRect().width)")
    assert all(0 < w <= 681 for w in widths), widths
    _whole_page(page, screenshot, "bilan-print")
    # Printed to PDF (test-artifacts/bilan-report.pdf): A4 portrait, and the wide commune table on A4 landscape
    # pages (the stylesheet's named page).
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (SCREENSHOTS.parent / "bilan-report.pdf").write_bytes(pdf)
    sizes = [(round(float(w)), round(float(h))) for w, h in re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)]
    assert set(sizes) == {(595, 842), (842, 595)}, sizes  # A4 in points, both ways
    assert sizes.count((595, 842)) >= 3 and sizes.count((842, 595)) >= 1


def test_operator_freezes_a_bilan_and_compares_it_with_today(site, browser_page, screenshot, seeded):  # noqa: F811
    page = browser_page
    _log_in(page, site, seeded.operator)
    page.goto(site + "/communes/bilan")
    page.fill("#bilan-snapshot-label", "Bilan phase 1")
    with page.expect_navigation():
        page.locator("#bilan-freeze button[type=submit]").click()
    assert "est figé" in page.locator(".flash-messages").inner_text()
    assert "Bilan phase 1 (figé le" in page.locator(".bilan-edition").inner_text()
    snapshot_id = page.locator("#bilan-snapshot").input_value()
    assert snapshot_id

    helpers.call_action("package_create", context={"user": seeded.sysadmin["name"]},
                        **dataset_fields("limonest", "limonest-piscine", "etalab-2.0"))
    page.goto(site + "/communes/bilan")
    page.select_option("#bilan-compare", snapshot_id)
    with page.expect_navigation():
        page.locator("#bilan-picker button[type=submit]").click()
    _wait_for_charts(page)
    comparison = page.locator("#bilan-comparison")
    line = comparison.locator('table[data-part="communes"] tr[data-row="69116"][data-indicator="datasets"]')
    assert [line.locator(f'td[data-side="{side}"]').inner_text() for side in ("a", "b", "delta")] == ["1", "2", "+1"]
    assert "Bilan phase 1 (figé le" in comparison.locator(".bilan-comparison-sides").inner_text()
    _whole_page(page, screenshot, "bilan-comparison")


def test_commune_admin_sees_the_dashboard_of_the_commune(site, browser_page, screenshot, seeded):  # noqa: F811
    page = browser_page
    _log_in(page, site, seeded.bron_admin)
    page.goto(site + "/organization/bron")
    dashboard = page.locator("#communes-bilan-dashboard")
    assert dashboard.is_visible()
    bron = next(row for row in indicators.compute("commune")["rows"] if row["key"] == "69029")
    assert dashboard.locator('tr[data-indicator="datasets"] td[data-side="commune"]').inner_text() == \
        str(bron["values"]["datasets"])
    assert dashboard.locator("tr[data-dataset]").count() >= 3
    assert "Tableau de bord de la commune" in dashboard.locator("h2").inner_text()
    dashboard.scroll_into_view_if_needed()
    screenshot("bilan-dashboard")
    # What the charts' JSON says is what a reader of the page can check in the table.
    page.goto(site + "/communes/bilan")
    spec = json.loads(page.locator("#bilan-chart-quality_histogram-data").text_content())
    assert sum(sum(series["data"]) for series in spec["series"]) >= 8
