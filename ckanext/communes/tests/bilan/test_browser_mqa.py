"""In Chromium, on a checked portal (tests/bilan/test_mqa_action.py: Bron's and Limonest's datasets checked,
400 out of 405 each): the bilan page draws the MQA per group and per commune with Chart.js, on the scale of
405 points, as horizontal bars. Screenshot in test-artifacts/screenshots/bilan-mqa.png."""

from __future__ import annotations

import pytest

from ckanext.communes.bilan import cache
from ckanext.communes.tests.bilan.test_mqa_action import portal  # noqa: F401 - fixture


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
