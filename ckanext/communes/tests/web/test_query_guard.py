"""The portal-wide query guard (query_guard.py) lets through every parameter CKAN's own pages write, tested
by following them: the pagers of the organisation, group and dataset lists (``?q=&sort=&page=2``: an empty
``sort`` was a French 400, so nobody reached the second page of the communes), the search forms' sort
options and the facets' links; and it still refuses what it refused (tests/test_hostile_input.py has the
rest)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.tests.shared import ENVI, TRAN

SITE = "http://test.ckan.net"
LISTS = ("/organization/", "/group/", "/dataset/")
GUARD_MESSAGES = ("ordre de tri doit", "numéro de page", "paramètres locaux Solr", "caractère nul", "limite doit")


@pytest.fixture(scope="module")
def lists_of_several_pages():
    """The Métropole and its 58 communes (three pages of organisations), 25 groups and 25 datasets: every
    list has a second page."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        seeding.seed()
        sysadmin = factories.Sysadmin()
        for number in range(25):
            # A context per call: CKAN's actions leave the object they made in it.
            helpers.call_action("group_create", context={"user": sysadmin["name"]}, name=f"groupe-{number:02d}",
                                title=f"Groupe {number:02d}")
            helpers.call_action("package_create", context={"user": sysadmin["name"]}, name=f"jeu-{number:02d}",
                                title=f"Jeu {number:02d}", notes="Un jeu de données de test.",
                                owner_org="bron" if number % 2 else "lyon", theme=[ENVI if number % 3 else TRAN],
                                license_id="etalab-2.0", tag_string="arbres,voirie" if number % 2 else "espaces verts",
                                groups=[{"name": "groupe-00"}], resources=[{"url": f"https://exemple.fr/{number}.csv"}])


class _Page(HTMLParser):
    """Links (with their class) and GET forms (their fields and the options of their selects)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, class of the <a> and of its <ul>/<li> parents)
        self.forms: list[dict[str, Any]] = []
        self._classes: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in ("ul", "li", "nav", "section", "div"):
            self._classes.append(values.get("class", ""))
        if tag == "a" and values.get("href"):
            self.links.append((values["href"], " ".join(self._classes + [values.get("class", "")])))
        if tag == "form" and values.get("method", "get").lower() == "get":
            self.forms.append({"action": values.get("action", ""), "fields": {}, "options": {}})
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and values.get("name") and values.get("type", "text") in ("text", "search", "hidden"):
            form["fields"][values["name"]] = values.get("value", "")
        if tag == "select" and values.get("name"):
            self._select = values["name"]
            form["options"][self._select] = []
        if tag == "option" and self._select:
            form["options"][self._select].append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "li", "nav", "section", "div") and self._classes:
            self._classes.pop()
        if tag == "select":
            self._select = None


def _read(app: Any, address: str) -> _Page:
    response = app.get(address)
    assert response.status_code == 200, (address, response.status_code, _guard_message(response.body))
    page = _Page()
    page.feed(response.body)
    return page


def _guard_message(body: str) -> str:
    return next((m for m in GUARD_MESSAGES if m in body), "")


def _own(address: str, href: str) -> str:
    parts = urlsplit(urljoin(SITE + address, href))
    return parts.path + ("?" + parts.query if parts.query else "")


@pytest.mark.usefixtures("lists_of_several_pages")
@pytest.mark.parametrize("path, writes_empty_sort", [
    ("/organization/", True), ("/group/", True), ("/dataset/", False), ("/group/groupe-00", False),
    ("/dataset/?q=jeu", False)])
def test_the_pagers_of_ckan_s_lists_lead_to_every_page(app, path, writes_empty_sort):
    seen, queue, pager_links = {path}, [path], []
    while queue:
        address = queue.pop(0)
        page = _read(app, address)  # 200, or the guard's message
        for href, classes in page.links:
            if "pagination" in classes and "page=" in href:
                target = _own(address, href)
                pager_links.append(target)
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
    assert "2" in {dict(parse_qsl(urlsplit(link).query)).get("page") for link in seen}, pager_links
    # What CKAN's organisation and group lists write: their search and sort, empty when there are none.
    empty_sort = [link for link in pager_links if dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
                  .get("sort") == ""]
    assert bool(empty_sort) == writes_empty_sort, pager_links


@pytest.mark.usefixtures("lists_of_several_pages")
@pytest.mark.parametrize("path", LISTS + ("/organization/bron", "/group/groupe-00"))
def test_an_empty_search_and_sort_are_accepted_on_every_list(app, path):
    for query in ("q=&sort=", "q=&sort=&page=2", "sort=", "q=&sort=&sort=title_string+asc"):
        response = app.get(f"{path}?{query}")
        assert response.status_code == 200, (query, _guard_message(response.body))


@pytest.mark.usefixtures("lists_of_several_pages")
@pytest.mark.parametrize("path", LISTS)
def test_every_sort_order_of_the_search_forms_is_accepted_with_an_empty_search(app, path):
    page = _read(app, path)
    [form] = [f for f in page.forms if "sort" in f["options"]]
    assert len(form["options"]["sort"]) >= 2
    for sort in form["options"]["sort"]:
        # The form as a visitor sends it without typing anything: q empty, the chosen sort.
        query = {**form["fields"], "q": "", "sort": sort}
        response = app.get(_own(path, form["action"] or path), query_string=query)
        assert response.status_code == 200, (sort, _guard_message(response.body))
        second = app.get(_own(path, form["action"] or path), query_string={**query, "page": "2"})
        assert second.status_code == 200, (sort, _guard_message(second.body))


@pytest.mark.usefixtures("lists_of_several_pages")
@pytest.mark.parametrize("path", ["/dataset/", "/organization/bron", "/group/groupe-00"])
def test_every_facet_link_is_accepted(app, path):
    page = _read(app, path)
    facet_links = {_own(path, href) for href, _classes in page.links
                   if re.search(r"[?&](tags|vocab_[a-z_]+|license_id|res_format|organization|groups)=", href)}
    assert len(facet_links) >= 3, (facet_links, [h for h, _c in page.links])
    for link in sorted(facet_links):
        response = app.get(link)
        assert response.status_code == 200, (link, _guard_message(response.body))


HOSTILE = (
    ("q=&sort=abc&page=2", "ordre de tri doit"),
    ("q=&sort=+", "ordre de tri doit"),  # blanks only: CKAN's organisation list fails on it (IndexError)
    ("q=&sort=&sort=title_string+asc%3B+x", "ordre de tri doit"),
    ("q=&sort=%7B%21func%7Dx+asc", "paramètres locaux Solr"),
    ("q=%7B%21xmlparser+v%3D%27x%27%7D&sort=", "paramètres locaux Solr"),
    ("q=&sort=&page=abc", "numéro de page"),
    ("q=%00&sort=", "caractère nul"),
)


@pytest.mark.usefixtures("lists_of_several_pages")
@pytest.mark.parametrize("path", LISTS)
def test_hostile_values_beside_empty_ones_are_still_refused(app, path):
    for query, message in HOSTILE:
        response = app.get(f"{path}?{query}")
        assert response.status_code == 400, (query, response.body[:300])
        assert message in response.body, query
