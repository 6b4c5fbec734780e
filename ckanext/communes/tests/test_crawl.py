"""Every page works for every role: the portal seeded with the Métropole and its 58 communes and harvested
from every source type with the example configurations of docs/harvesting.md (real HTTP servers on 127.0.0.1
answering as the remote portals do, jobs run synchronously), then crawled as a visitor follows links: anonymous,
a commune editor, a commune admin, a programme operator and a sysadmin, each from the main pages (home, ``/dataset``,
``/communes``, ``/communes/bilan``, ``/harvest``, each source page, job report and dry run the role may see,
one commune page, one dataset page per source type), two links deep.

What each page must be:

- never a server error; a link the portal writes answers 2xx, or a 3xx of a kind listed in ``REDIRECTS``
  (a short address to its page, a login asked of an anonymous visitor), whose target answers too;
- in French: ``<html lang="fr">`` and no text (nor button, placeholder, title) that is an English message of
  CKAN, ckanext-harvest or ours which the French catalogue translates (``english_messages``);
- within the role's rights: no page of a source the role may not see (anonymous: none; a commune's staff:
  their commune's sources, read only; operators: all), and each such page, asked for directly, is refused.

Links are ``<a href>`` on the portal's own host; links that change something when followed (logout, delete,
clear, refresh, abort, follow) and other hosts are not followed. The crawl is capped so that the five crawls
stay within a minute or so: ``MAX_PER_SHAPE`` addresses of one shape (``/dataset/*``, ``/dataset/?tags=``),
``MAX_PER_PATH_SHAPE`` of one page whatever its query (facets, sorts, pages), ``MAX_PAGES`` per role. The
query guard's own test (tests/test_query_guard.py) follows every pager, sort and facet link of the lists.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from babel.messages import pofile
from ckan import model
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.tests.communes.conftest import People, make_people
from ckanext.communes.tests.harvesters import test_ckan_harvest, test_ods_harvest, test_udata_source
from ckanext.communes.tests.harvesters.conftest import SourceServer
from ckanext.communes.tests.harvesters.test_csw_harvest import GeoNetwork
from ckanext.communes.tests.harvesters.test_dcat_harvest import serve_catalogue
from ckanext.harvest.model import HarvestObject

ROLES = ("anonymous", "commune_editor", "commune_admin", "operator", "sysadmin")
OPERATORS = {"operator", "sysadmin"}
BRON_STAFF = {"commune_editor", "commune_admin"}
MAX_DEPTH = 2
MAX_PER_SHAPE = 2
MAX_PER_PATH_SHAPE = 8
MAX_PAGES = 200

# The example configuration of each source type (docs/harvesting.md, Source types and configuration,
# Opendatasoft, data.gouv.fr (udata) and GeoNetwork (CSW) sources), and who owns the source: the udata one
# is Bron's own organisation on data.gouv.fr, so that Bron's staff see exactly one source.
README_CONFIGS: dict[str, dict[str, Any]] = {
    "communes_dcat": {"rdf_format": "turtle", "max_withdraw_percent": 10,
                      "routing": {"SIVU de la Vallée": "69029", "Direction de l'eau": "metropole-de-lyon"}},
    "communes_ckan": {"fq": "organization:ville-de-bron", "priority": 10, "request_timeout": 15},
    "communes_ods": {"refine": ["publisher:Ville de Bron"], "where": "records_count > 0",
                     "exclude_datasets": ["donnees-de-test"]},
    "communes_udata": {"udata_organization": "ville-de-bron", "page_size": 50},
    "communes_csw": {"page_size": 100, "cql": "OrgName = 'Ville de Bron'", "username": "lyon-harvest",
                     "password": "…"},
}
OWNERS = {"communes_udata": "bron"}

# Redirects the portal makes on purpose: (what was asked, where it leads), as regular expressions on paths.
REDIRECTS = (
    (r"/communes/[^/]+", r"/organization/[^/]+"),  # a commune by INSEE code, SIREN or name
    # A dataset or source by id to its address by name (CKAN's), e.g. an activity's link.
    (r"/(dataset|harvest)/[0-9a-f-]{36}(/.*)?", r"/(dataset|harvest)/[a-z0-9_-]+(/.*)?"),
)  # and a page that needs a login, asked by an anonymous visitor: to /user/login (deliberate())
# Links not followed: they change something (or end the session) when followed with GET.
SIDE_EFFECTS = re.compile(r"/(user/_?logout|harvest/(refresh|clear|delete)/|.*/abort$|.*/delete(/|$)"
                          r"|.*/(un)?follow(/|$))")


# ------------------------------------------------------------------------------------ the portal


@dataclass
class Portal:
    people: People
    sources: dict[str, dict[str, Any]]  # source type -> harvest_source_show
    jobs: dict[str, str]  # source type -> id of its finished job
    datasets: dict[str, str]  # source type -> name of one dataset it harvested
    objects: dict[str, str]  # harvest object id -> source type


def _serve_remotes(server: SourceServer) -> dict[str, str]:
    """The five remote portals on the fixture server; source type -> the source URL docs/harvesting.md says."""
    # udata: the documented organisation slug, resolved to the fixture organisation's id.
    test_udata_source.RemoteUdata(server, test_udata_source.fixture_datasets(server))
    organisation = (test_udata_source.FIXTURES / "organization.json").read_text(encoding="utf-8")
    server.serve("/api/1/organizations/ville-de-bron/", organisation, content_type="application/json")
    ckan_remote = test_ckan_harvest.RemoteCKAN(server, test_ckan_harvest.fixture_datasets())
    ods = test_ods_harvest.RemoteODS(server, test_ods_harvest.fixture_datasets())
    geonetwork = GeoNetwork(server, credentials=("lyon-harvest", "…"))
    return {"communes_dcat": serve_catalogue(server), "communes_ckan": ckan_remote.url, "communes_ods": ods.url,
            "communes_udata": server.url("/"), "communes_csw": geonetwork.url}


@pytest.fixture(scope="module")
def remote_portals():
    server = SourceServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def portal(remote_portals) -> Portal:
    import ckan.common

    from ckanext.communes.tests.conftest import module_database

    monkeypatch = pytest.MonkeyPatch()
    # The remote portals are on 127.0.0.1; kept for the whole module (the dry runs read them again).
    monkeypatch.setitem(ckan.common.config, "ckanext.communes.fetch.allow_private_addresses", True)
    urls = _serve_remotes(remote_portals)
    with module_database():
        seeding.seed()  # the Métropole and its 58 communes: the organisation list has several pages
        people = make_people()
        sources, finished, datasets = {}, {}, {}
        for source_type, config in README_CONFIGS.items():
            name = source_type.replace("communes_", "source-")
            source = helpers.call_action(
                "harvest_source_create", context={"user": people.sysadmin["name"]}, name=name,
                title=f"Source {source_type}", url=urls[source_type], source_type=source_type,
                owner_org=OWNERS.get(source_type, "metropole-de-lyon"), config=json.dumps(config))
            job = jobs.run_source(source["id"])
            assert job["status"] == "Finished" and not job.get("gather_error_summary"), (source_type, job)
            finished[source_type] = job["id"]
            sources[source_type] = helpers.call_action("harvest_source_show", id=source["id"])
            package_id = (model.Session.query(HarvestObject.package_id)
                          .filter(HarvestObject.harvest_source_id == source["id"], HarvestObject.current.is_(True))
                          .order_by(HarvestObject.package_id).first())
            assert package_id, f"{source_type} harvested nothing"
            datasets[source_type] = model.Package.get(package_id[0]).name
        objects = {object_id: source_type for source_type, source in sources.items()
                   for (object_id,) in model.Session.query(HarvestObject.id)
                   .filter(HarvestObject.harvest_source_id == source["id"])}
    yield Portal(people, sources, finished, datasets, objects)
    monkeypatch.undo()


# ------------------------------------------------------------------------------------ rights


def source_pages(portal: Portal, source_type: str) -> dict[str, str]:
    """Pages of one source: kind -> path."""
    source = portal.sources[source_type]
    name, job = source["name"], portal.jobs[source_type]
    return {"read": f"/harvest/{name}", "about": f"/harvest/about/{name}", "jobs": f"/harvest/{name}/job",
            "job": f"/harvest/{name}/job/{job}", "last_job": f"/harvest/{name}/job/last",
            "admin": f"/harvest/admin/{name}", "edit": f"/harvest/edit/{name}",
            "preview": f"/harvest/preview/{source['id']}"}


READ_KINDS = {"read", "about", "jobs", "job", "last_job"}


def may_see(role: str, portal: Portal, source_type: str, kind: str) -> bool:
    if role in OPERATORS:
        return True
    if role in BRON_STAFF:
        return kind in READ_KINDS and OWNERS.get(source_type) == "bron"
    return False


def source_of_path(portal: Portal, path: str) -> tuple[str, str] | None:
    """(source type, kind) of a path that belongs to one source, else None: its pages, and any page of
    ``/harvest`` or ``/dataset`` naming it (its activity, its history: a source is a dataset to CKAN)."""
    segments = path.split("/")
    for source_type, source in portal.sources.items():
        for kind, page in source_pages(portal, source_type).items():
            if path == page:
                return source_type, kind
        if segments[1:2] in (["harvest"], ["dataset"]) and {source["name"], source["id"]} & set(segments):
            managing = {"edit", "admin", "preview", "delete", "clear", "refresh", "new"} & set(segments)
            return source_type, "edit" if managing else "read"
    match = re.fullmatch(r"/(?:harvest/object|dataset/harvest_object)/([^/]+)", path)
    if match and match.group(1) in portal.objects:
        return portal.objects[match.group(1)], "job"
    return None


def rights_problem(role: str, portal: Portal, path: str) -> str | None:
    if path.startswith("/ckan-admin") and role != "sysadmin":
        return "CKAN's administration"
    if path in ("/harvest/new", "/dataset/new?type=harvest") and role not in OPERATORS:
        return "the new source form"
    owned = source_of_path(portal, path)
    if owned and not may_see(role, portal, *owned):
        return f"page {owned[1]} of {owned[0]}"
    return None


# ------------------------------------------------------------------------------------ French


@functools.cache
def english_messages() -> frozenset[str]:
    """English messages (CKAN's, ckanext-harvest's, ours) that the French catalogue translates otherwise:
    seen whole as a page's text, they mean an untranslated page. Messages with placeholders are left out,
    and those spelt the same in both languages (« Description », « Format ») are not English."""
    import ckan

    from ckanext.communes.tests.test_i18n import PO

    def read(path: pathlib.Path) -> dict[str, str]:
        with path.open("rb") as f:
            found: dict[str, str] = {}
            for message in pofile.read_po(f):
                ids = [message.id] if isinstance(message.id, str) else list(message.id)
                strings = [message.string] if isinstance(message.string, str) else list(message.string)
                # A plural: the singular with the first French form, the plural with the second.
                for msgid, msgstr in zip(ids, strings, strict=False):
                    if msgid and msgstr:
                        found.setdefault(msgid, msgstr)
            return found

    ckan_po = pathlib.Path(sys.modules[ckan.__name__].__file__).parent / "i18n" / "fr" / "LC_MESSAGES" / "ckan.po"
    translations = {**read(ckan_po), **read(PO)}
    return frozenset(
        " ".join(msgid.split()) for msgid, msgstr in translations.items()
        if " ".join(msgid.split()) != " ".join(msgstr.split()) and not re.search(r"[%{}<]", msgid)
        and re.search(r"[A-Za-z]{3}", msgid) and len(msgid.strip()) >= 4)


class PageReader(HTMLParser):
    """The links, the language and the visible texts of an HTML page."""

    SKIPPED = {"script", "style", "noscript", "template"}
    TEXT_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.texts: list[str] = []
        self.lang: str | None = None
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = values.get("lang")
        if tag in self.SKIPPED:
            self._skipping += 1
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        self.texts += [values[name] for name in self.TEXT_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.texts.append(values["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append(data)


# ------------------------------------------------------------------------------------ the crawl


@dataclass
class Visit:
    url: str
    status: int
    depth: int
    referrer: str | None
    location: str | None = None
    english: list[str] = field(default_factory=list)
    lang: str | None = None
    error: str | None = None


SITE = urlsplit("http://test.ckan.net")
LITERAL_SEGMENTS = {"dataset", "resource", "organization", "group", "harvest", "job", "about", "admin", "edit",
                    "preview", "object", "communes", "bilan", "user", "activity", "licences", "new", "last",
                    "download", "changes", "members", "followers", "api", "action", "catalog", "views", "export"}


def own_address(page_url: str, href: str) -> str | None:
    """The link as a normalised portal address (path and sorted query), or None when not to follow."""
    if href.startswith(("mailto:", "javascript:", "tel:", "#")):
        return None
    parts = urlsplit(urljoin(page_url, href))
    if parts.scheme not in ("http", "https") or (parts.netloc and parts.netloc != SITE.netloc):
        return None
    if SIDE_EFFECTS.match(parts.path) or parts.path.startswith(("/en/", "/webassets/", "/base/", "/uploads/")):
        return None
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit(("", "", parts.path or "/", query, ""))


def shape(address: str) -> str:
    parts = urlsplit(address)
    segments = [s if not s or s in LITERAL_SEGMENTS else "*" for s in parts.path.split("/")]
    names = sorted({name for name, _value in parse_qsl(parts.query, keep_blank_values=True)})
    return "/".join(segments) + "?" + "&".join(names)


class RoleClient:
    """Gets pages as one role: logged in with the user's API token (CKAN identifies a user by it on every
    page, as by the session cookie), nothing for an anonymous visitor."""

    def __init__(self, app: Any, portal: Portal, role: str) -> None:
        self.app = app
        self.headers = {} if role == "anonymous" else {"Authorization": portal.people.token(role)}

    def get(self, address: str) -> tuple[int, Any]:
        """(status, response); an exception raised by a view (the test app propagates them) is a 500."""
        try:
            response = self.app.get(address, headers=self.headers, follow_redirects=False)
        except Exception as error:  # noqa: BLE001 - what a visitor gets as a 500
            return 500, f"{type(error).__name__}: {error}"[:300]
        return response.status_code, response


def crawl(client: RoleClient, starts: list[str], english: frozenset[str]) -> dict[str, Visit]:
    """Breadth first from the start pages, following links up to MAX_DEPTH (a redirect's target is the page
    asked for, at the same depth, whatever the caps)."""
    visits: dict[str, Visit] = {}
    shapes: dict[str, int] = {}
    queue: deque[tuple[str, int, str | None]] = deque((start, 0, None) for start in starts)
    queued = set(starts)
    while queue and len(visits) < MAX_PAGES:
        address, depth, referrer = queue.popleft()
        status, response = client.get(address)
        visit = visits[address] = Visit(address, status, depth, referrer)
        if status == 500 and isinstance(response, str):
            visit.error = response
        elif 300 <= status < 400:
            visit.location = response.headers.get("Location")
            target = own_address(SITE.geturl() + address, visit.location or "")
            if target and target not in queued:
                queued.add(target)
                queue.appendleft((target, depth, address))
        elif status == 200 and response.mimetype == "text/html":
            reader = PageReader()
            reader.feed(response.get_data(as_text=True))
            visit.lang = reader.lang
            visit.english = sorted({" ".join(t.split()) for t in reader.texts} & english)
            if depth >= MAX_DEPTH:
                continue
            for target in (own_address(SITE.geturl() + address, href) for href in reader.links):
                if not target or target in queued:
                    continue
                kind = shape(target)
                path_kind = kind.split("?", 1)[0] + "?…"  # the same page, any query (facets, sort, paging)
                if shapes.get(kind, 0) >= MAX_PER_SHAPE or shapes.get(path_kind, 0) >= MAX_PER_PATH_SHAPE:
                    continue
                shapes[kind] = shapes.get(kind, 0) + 1
                shapes[path_kind] = shapes.get(path_kind, 0) + 1
                queued.add(target)
                queue.append((target, depth + 1, address))
    return visits


def deliberate(visit: Visit, role: str) -> bool:
    target = urlsplit(urljoin(SITE.geturl() + visit.url, visit.location or ""))
    if target.netloc != SITE.netloc:
        return False
    if target.path == "/user/login":
        return role == "anonymous"  # a page that needs a login, asked by an anonymous visitor
    asked = urlsplit(visit.url).path
    return any(re.fullmatch(source, asked) and re.fullmatch(goal, target.path) for source, goal in REDIRECTS)


# ------------------------------------------------------------------------------------ the tests


def start_pages(portal: Portal, role: str) -> list[str]:
    pages = ["/", "/dataset/", "/communes", "/communes/bilan", "/harvest/", "/communes/69029"]
    for source_type, name in portal.datasets.items():
        pages.append(f"/dataset/{name}")
        for kind in ("read", "job", "preview"):
            if may_see(role, portal, source_type, kind):
                pages.append(source_pages(portal, source_type)[kind])
    return pages


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches_works_in_french_within_its_rights(app, portal, role):
    english = english_messages()
    visits = crawl(RoleClient(app, portal, role), start_pages(portal, role), english)
    problems = []
    for visit in visits.values():
        where = f"{visit.url} (from {visit.referrer})"
        if visit.status >= 500:
            problems.append(f"{visit.status}: {where} {visit.error or ''}")
        elif 300 <= visit.status < 400 and not deliberate(visit, role):
            problems.append(f"{visit.status} to {visit.location}: {where}")
        elif visit.status >= 400:
            problems.append(f"{visit.status}: {where}")
        elif visit.status == 200 and visit.lang is not None and not visit.lang.startswith("fr"):
            problems.append(f'lang="{visit.lang}": {where}')
        if visit.english:
            problems.append(f"English {visit.english[:5]}: {where}")
        if 200 <= visit.status < 300 and (reason := rights_problem(role, portal, urlsplit(visit.url).path)):
            problems.append(f"{role} may not see {reason}: {where}")
    assert len(visits) >= 40, sorted(visits)  # the crawl went somewhere
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_each_page_of_a_source_asked_directly_answers_as_the_role_s_rights_say(app, portal, role):
    """The crawl only meets the links a role is shown; the addresses of every source's pages, typed in,
    must be refused to a role that may not see them (403 or 404, or the login page for an anonymous
    visitor) and open for one that may."""
    client = RoleClient(app, portal, role)
    wrong = []
    for source_type in portal.sources:
        for kind, path in source_pages(portal, source_type).items():
            status, response = client.get(path)
            login = 300 <= status < 400 and "/user/login" in response.headers.get("Location", "")
            allowed = may_see(role, portal, source_type, kind)
            if (allowed and status != 200) or (not allowed and status not in (403, 404) and not login):
                error = f" ({response})" if isinstance(response, str) else ""
                wrong.append(f"{path} ({kind} of {source_type}): {status}{error}, expected "
                             f"{'200' if allowed else '403/404'}")
    status, _response = client.get("/harvest/new")
    if (status == 200) != (role in OPERATORS):
        wrong.append(f"/harvest/new: {status}")
    assert not wrong, "\n".join(wrong)


def test_a_job_s_counts_read_in_french_on_its_page_and_in_the_list_of_jobs(app, portal):
    """ckanext-harvest writes its job badges as `_(action)` with a variable (« 5 added »): message
    extraction cannot see them, so the crawl's whole-text check cannot either; they are checked by name."""
    client = RoleClient(app, portal, "operator")
    for kind in ("job", "jobs"):
        status, response = client.get(source_pages(portal, "communes_ckan")[kind])
        assert status == 200, kind
        reader = PageReader()
        reader.feed(response.get_data(as_text=True))
        badges = {" ".join(text.split()) for text in reader.texts}
        words = {re.sub(r"^\d+\s*", "", text) for text in badges}
        assert not words & {"added", "updated", "deleted", "not modified", "errors"}, (kind, sorted(badges))
        assert {"ajoutés", "mis à jour", "supprimés", "inchangés"} <= words, (kind, sorted(badges))
