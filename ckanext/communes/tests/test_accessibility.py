"""Every page of a seeded and harvested portal meets WCAG 2.1 AA as axe-core checks it (RGAA, the French public
bodies' standard, is WCAG 2.1 AA): the portal of the crawl (tests/test_crawl.py: the Métropole and its 58
communes, harvested from the five source types by real HTTP servers on 127.0.0.1) plus a dataset with many
resources, each page opened in Chromium as the role that sees it, axe-core (vendored from npm, tests/data/axe-core)
run on it with the WCAG 2 A/AA and 2.1 A/AA rules. A failure lists rule, page and the nodes.

Each page also carries the accessibility statement's link in its footer, and the statement itself
(/accessibilite) says what this audit found: accessibility/data/audit.json, compared with the audit's results
here (written there when COMMUNES_WRITE_ACCESSIBILITY_AUDIT=1)."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.accessibility import audit as audit_module
from ckanext.communes.tests.conftest import browser_log_in
from ckanext.communes.tests.shared import CSV, ENVI, GEOJSON
from ckanext.communes.tests.test_crawl import Portal, portal, remote_portals, source_pages  # noqa: F401 - fixtures

AXE = pathlib.Path(__file__).parent / "data" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
PASSWORD = "correct horse battery staple"
MANY_RESOURCES = "equipements-publics-de-bron"
AROUND_BRON = "4.88,45.71,4.94,45.76"  # place search: the map with the area searched


@dataclass
class Violation:
    rule: str
    impact: str | None
    page: str
    targets: list[str]
    help: str

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:8]) + (f" … ({len(self.targets)} nodes)" if len(self.targets) > 8 else "")
        return f"{self.rule} ({self.impact}) on {self.page}: {len(self.targets)} node(s): {shown} — {self.help}"


def run_axe(page: Any) -> dict[str, Any]:
    """axe-core's results on the page as it is now (WCAG 2.0 and 2.1, levels A and AA)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        list(WCAG_TAGS))


def audit(page: Any, base_url: str, path: str) -> list[Violation]:
    response = page.goto(base_url + path)
    assert response is not None and response.status == 200, (path, response and response.status)
    page.wait_for_load_state("networkidle")
    results = run_axe(page)
    return [Violation(v["id"], v.get("impact"), path,
                      [" ".join(str(t) for t in node["target"]) for node in v["nodes"]], v["help"])
            for v in results["violations"]]


# ------------------------------------------------------------------------------------ the portal


@pytest.fixture(scope="module")
def audited_portal(portal: Portal) -> Portal:  # noqa: F811 - the crawl's module fixture
    """The crawl's portal, plus a dataset of Bron with many resources, and passwords the browser can type."""
    from ckanext.communes.tests import reused_portal

    with reused_portal.plugins_for_module():
        sysadmin = portal.people.sysadmin["name"]
        helpers.call_action(
            "package_create", context={"user": sysadmin}, name=MANY_RESOURCES, title="Équipements publics de Bron",
            notes="Les équipements publics de la commune : écoles, gymnases, bibliothèques, mairies annexes "
                  "(voir [l'annuaire des services](https://www.ville-bron.fr/annuaire) de la ville).",
            owner_org="bron", theme=[ENVI], license_id="etalab-2.0", tag_string="équipements,services publics",
            resources=[{"url": f"https://data.ville-bron.fr/equipements-{i}.{'csv' if i % 2 else 'geojson'}",
                        "name": f"Équipements publics, lot {i}", "format": CSV if i % 2 else GEOJSON,
                        "description": f"Le lot {i} des équipements."} for i in range(1, 13)])
        for role in ("operator", "commune_editor"):  # the crawl's people: an operator, a member of Bron
            account = model.User.get(getattr(portal.people, role)["name"])
            account.password = PASSWORD
        model.repo.commit()
    return portal


@dataclass(frozen=True)
class Page:
    kind: str  # accessibility.audit.PAGE_KINDS
    detail: str
    path: str


def public_pages(harvested_portal: Portal) -> list[Page]:
    harvested = [Page("harvested_dataset", source_type, f"/dataset/{name}")
                 for source_type, name in harvested_portal.datasets.items()]
    licences = [Page("licence", licence_id, f"/licences/{licence_id}")
                for licence_id in ("etalab-2.0", "grandlyon-engagee", "other-closed")]
    return [Page("home", "", "/"), Page("dataset_search", "", "/dataset/"),
            Page("dataset_search_facets", "", "/dataset/?organization=bron&tags=arbres"),
            Page("dataset_search_page", "", "/dataset/?page=2"),
            Page("dataset_search_place", "", f"/dataset/?ext_bbox={AROUND_BRON}&organization=bron"),
            Page("dataset_many_resources", "", f"/dataset/{MANY_RESOURCES}"), *harvested,
            Page("organisations", "", "/organization/?page=2"), Page("organisation", "", "/organization/bron"),
            Page("commune", "", "/organization/about/bron"), Page("communes", "", "/communes"),
            Page("bilan", "", "/communes/bilan"), Page("login", "", "/user/login"), *licences,
            Page("statement", "", "/accessibilite")]


def operator_pages(harvested_portal: Portal) -> list[Page]:
    pages = [Page("harvest", "", "/harvest/"), Page("harvest_page", "", "/harvest/?page=2")]
    for source_type in harvested_portal.sources:
        kinds = source_pages(harvested_portal, source_type)
        pages += [Page("harvest_source", source_type, kinds["read"]), Page("harvest_job", source_type, kinds["job"])]
    return pages


def user_pages(user_name: str) -> list[Page]:
    return [Page("user", "", f"/user/{user_name}"), Page("dashboard", "", "/dashboard/datasets")]


# Pages photographed after their audit (test-artifacts/screenshots/a11y-*.png), to be looked at.
PHOTOGRAPHED = {("dataset_search_facets", ""), ("dataset_search_place", ""), ("organisation", ""),
                ("dataset_many_resources", ""), ("statement", ""), ("organisations", ""),
                ("harvest_job", "communes_csw"), ("user", "")}


def audit_as(page: Any, base_url: str, role: str, pages: list[Page], results: dict[str, Any],
             screenshot: Any) -> list[Violation]:
    """axe-core on each page; each page's footer must link the accessibility statement with its status."""
    found = []
    for audited in pages:
        violations = audit(page, base_url, audited.path)
        found += violations
        if (audited.kind, audited.detail) in PHOTOGRAPHED:
            screenshot("-".join(filter(None, ("a11y", audited.kind, audited.detail))))
        status = page.locator("footer [data-accessibility-status]")
        if status.count() != 1 or status.get_attribute("href") != "/accessibilite" \
                or status.inner_text().strip() != "Accessibilité : partiellement conforme":
            found.append(Violation("statement-link", None, audited.path, ["footer"],
                                   "no « Accessibilité : partiellement conforme » link to /accessibilite"))
        results["pages"].append({"kind": audited.kind, "detail": audited.detail, "role": role})
        results["findings"] += [{"kind": audited.kind, "detail": audited.detail, "rule": v.rule, "impact": v.impact,
                                 "nodes": len(v.targets), "help": v.help} for v in violations]
    return found


def focus_ring(locator: Any) -> str:
    return locator.evaluate("e => { const s = getComputedStyle(e); return `${s.outlineStyle} ${s.outlineWidth}`; }")


def keyboard_problems(page: Any, base_url: str) -> list[Violation]:
    """The links this work named (a facet, the pager's next arrow, the footer's statement link) take the keyboard's
    focus, show it, and work with Enter."""
    problems = []
    page.goto(base_url + "/dataset/")
    for selector, expected in ((".nav-facet a", "vocab_"), (".pagination a:has(.fa-chevron-right)", "page=2"),
                               ("footer [data-accessibility-status]", "/accessibilite")):
        link = page.locator(selector).first
        link.focus()
        ring = focus_ring(link)
        if not ring.startswith("solid") or ring.endswith(" 0px"):
            problems.append(Violation("focus-visible", None, "/dataset/", [selector], f"focus shown as {ring}"))
        page.keyboard.press("Enter")
        try:
            page.wait_for_url(lambda url, expected=expected: expected in url, timeout=10000)
        except Exception:  # noqa: BLE001 - reported with the page's address
            problems.append(Violation("keyboard", None, "/dataset/", [selector], f"Enter led to {page.url}"))
        page.goto(base_url + "/dataset/")
    return problems


def substance(results: dict[str, Any]) -> dict[str, Any]:
    """What an audit found, without when and in which browser build: equal for two runs that found the same."""
    return {"tool_version": results["tool_version"], "tags": list(results["tags"]), "pages": results["pages"],
            "findings": [{k: f[k] for k in ("kind", "detail", "rule", "nodes")} for f in results["findings"]],
            "conformity": results["conformity"]}


def dump(results: dict[str, Any]) -> str:
    """The audit's JSON, one page or finding a line (a reviewable diff when the findings change)."""
    lines = []
    for key, value in results.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def assert_no_violation(found: list[Violation]) -> None:
    assert not found, f"{len(found)} WCAG 2.1 AA violation(s):\n" + "\n".join(str(v) for v in found)


# ------------------------------------------------------------------------------------ the tests


def test_every_page_meets_wcag_2_1_aa_as_the_role_that_sees_it(
        audited_portal, live_server, browser_page, screenshot, ckan_config, monkeypatch):
    """Public pages as an anonymous visitor, the harvest pages as an operator, the user's pages as a member of
    Bron; five datasets a page (two sources), so that the search, an organisation page and the sources have a pager."""
    monkeypatch.setitem(ckan_config, "ckan.datasets_per_page", 5)
    page = browser_page
    version = AXE.read_text(encoding="utf-8")[:40].split("axe v", 1)[1].split()[0]  # "/*! axe v4.14.1"
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(), "tool": "axe-core", "tool_version": version,
        "browser": f"Chromium {page.context.browser.version}", "tags": list(WCAG_TAGS), "pages": [],
        "findings": [], "conformity": audit_module.PARTIAL}
    found = audit_as(page, live_server, "anonymous", public_pages(audited_portal), results, screenshot)
    found += keyboard_problems(page, live_server)
    monkeypatch.setitem(ckan_config, "ckan.datasets_per_page", 2)  # five sources: three pages
    operator = audited_portal.people.operator["name"]
    browser_log_in(page, live_server, operator, PASSWORD)
    found += audit_as(page, live_server, "operator", operator_pages(audited_portal), results, screenshot)
    page.context.clear_cookies()
    member = audited_portal.people.commune_editor["name"]
    browser_log_in(page, live_server, member, PASSWORD)
    found += audit_as(page, live_server, "user", user_pages(member), results, screenshot)

    # The statement shows what this audit found (the committed file), or the file is written when asked to.
    committed = json.loads(audit_module.AUDIT_FILE.read_text(encoding="utf-8"))
    if substance(committed) != substance(results):
        if os.environ.get("COMMUNES_WRITE_ACCESSIBILITY_AUDIT") == "1":
            audit_module.AUDIT_FILE.write_text(dump(results), encoding="utf-8")
        else:
            found.append(Violation("statement-results", None, str(audit_module.AUDIT_FILE), [],
                                   "the statement's results differ from this audit's: run this test with "
                                   "COMMUNES_WRITE_ACCESSIBILITY_AUDIT=1 and commit the file"))
    assert_no_violation(found)


# ------------------------------------------------------------------------------------ the statement


def test_the_statement_renders_for_an_anonymous_visitor_with_the_audit_s_results_and_the_recourse(app):
    committed = audit_module.latest()
    html = app.get("/accessibilite", status=200).get_data(as_text=True)
    assert "<h1>Déclaration d’accessibilité</h1>" in html
    assert 'data-accessibility-conformity="partial"' in html and "est partiellement conforme avec le RGAA" in html
    assert f"axe-core {committed.tool_version}" in html and "wcag2a, wcag2aa, wcag21a, wcag21aa" in html
    assert f'data-accessibility-pages="{len(committed.pages)}"' in html and len(committed.pages) >= 30
    assert "Un jeu de données moissonné — communes_csw" in html  # the pages audited, by kind
    assert f'data-accessibility-findings="{len(committed.findings)}"' in html
    assert "Cette déclaration a été établie le" in html and "Métropole de Lyon s’engage" in html
    # The recourse the law requires: the Défenseur des droits, by form, delegate or free post.
    assert "Voies de recours" in html and "Défenseur des droits" in html and "Libre réponse 71120" in html
    # No contact address configured: the About page.
    assert '<a href="/about" data-accessibility-contact>' in html


def test_the_statement_gives_the_configured_contact_address(app, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.accessibility.contact_email", "accessibilite@grandlyon.com")
    html = app.get("/accessibilite", status=200).get_data(as_text=True)
    assert '<a href="mailto:accessibilite@grandlyon.com" data-accessibility-contact>' in html


@pytest.mark.parametrize("path", ["/", "/accessibilite", "/communes", "/user/login", "/dataset/no-such-dataset"])
def test_a_page_s_footer_links_the_statement_with_the_conformity(app, path):
    """The browser audit checks every audited page's footer; here, quickly, a few more, an error page among them."""
    response = app.get(path)
    assert response.status_code in (200, 404), (path, response.status_code)
    assert ('<a href="/accessibilite" data-accessibility-status>Accessibilité : partiellement conforme</a>'
            in response.get_data(as_text=True)), path
