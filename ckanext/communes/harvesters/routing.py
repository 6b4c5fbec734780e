"""Which organisation a harvested dataset goes to (issue #8, point 2).

A source owned by a commune puts everything in that commune. A source owned by the Métropole (or any
organisation that is not a commune) routes each dataset to the commune its publisher designates, by
the first publisher value that designates one, trying for each value in turn:

1. the source's routing table (keys compared after ``normalise_commune_name``);
2. a SIREN (9 digits, spaces allowed) or a SIRET (14 digits: its first 9 are the SIREN), also as the
   ``annuaire-entreprises.data.gouv.fr/entreprise/{siren}`` page our own RDF uses for the Métropole;
3. an INSEE code: current, former (69152 Pierre-Bénite -> 69149), or one of Lyon's arrondissements;
4. an INSEE URI (``http(s)://id.insee.fr/geo/commune/{code}``, also ``arrondissementMunicipal``) or our
   own commune URI (``{site}/communes/{code}``);
5. a name: the commune's current or a former name, exactly after normalisation (no fuzzy matching).

"Métropole de Lyon" and its SIREN route to the Métropole's organisation. Anything else, and a commune
that has no active organisation on the portal yet, leaves the dataset with the source owner and names
the values in ``Route.unrouted_values`` for the job report.

Only lookups: nothing here writes. The communes come from ``registry`` (never the data file) and the
organisations from ``programme`` (active organisations only).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes import uris
from ckanext.communes.communes import programme, registry
from ckanext.communes.translation import gettext

MATCHED_BY = (
    "source_owner", "table", "siren", "insee", "former_insee", "arrondissement", "insee_uri", "name",
    "unrouted",
)

# A routing table is typed by hand in a source's config: a few dozen names at most. The cap keeps a
# pasted-in directory from being checked against the database entry by entry.
MAX_TABLE_ENTRIES = 1000

# Prefixes publishers put before a commune's name, compared on the normalised form ("d'" -> "d ").
_NAME_PREFIXES = ("ville de ", "ville d ", "commune de ", "commune d ", "mairie de ", "mairie d ")
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")  # \s also matches the no-break spaces of French typography
_DIGITS = re.compile(r"^\d+$")
# INSEE's linked-data URIs by code: communes and municipal arrondissements (Lyon's 69381-69389).
_INSEE_URI_HOST = "id.insee.fr"
_INSEE_URI_PATH = re.compile(r"^/geo/(?:commune|arrondissementMunicipal)/([0-9AB]{5})/?$", re.IGNORECASE)
_SIREN_PAGE = urlsplit(uris.SIREN_PAGE_PREFIX)


@dataclass(frozen=True)
class Route:
    org_id: str  # organisation the dataset goes to (commune, or the source owner when unroutable)
    org_name: str
    insee: str  # current INSEE code of the commune, "" when not a commune
    matched_by: str  # one of MATCHED_BY
    matched_value: str  # the publisher value that decided ("" for source_owner)
    unrouted_values: tuple[str, ...]  # values that designated nothing (for the report), when unrouted


@dataclass(frozen=True)
class _Org:
    """What a Route needs of an organisation: plain values, so that a cache kept for a whole job does
    not hold model objects that a commit of the harvester would expire."""

    id: str
    name: str
    insee: str


def normalise_commune_name(value: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a publisher's name, without the "Ville de",
    "Commune de", "Mairie de" (and "d'") prefixes: "Ville de Sainte-Foy-lès-Lyon" -> "sainte foy les lyon"."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = _NOT_WORD.sub(" ", text).strip()
    for prefix in _NAME_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    return text


def _compact(value: str) -> str:
    return _SPACES.sub("", value).upper()


def _org_of(group: model.Group | None) -> _Org | None:
    if group is None:
        return None
    code = str((group.extras or {}).get("insee_code") or "").strip()
    commune = registry.get_commune(code) if code else None
    return _Org(id=group.id, name=group.name, insee=commune.insee if commune else code)


def _is_commune(group: model.Group) -> bool:
    extras = group.extras or {}
    return extras.get("kind") == "commune" or bool(str(extras.get("insee_code") or "").strip())


def _without_scheme(url: str) -> str:
    """``https://Portal.example/x/`` -> ``portal.example/x``: the host compared case-insensitively,
    http and https alike (sources copy URIs with either)."""
    parts = urlsplit(url.strip())
    return f"{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _name_index() -> dict[str, registry.Commune]:
    """Normalised current and former names of the communes; a current name wins over a former one."""
    index: dict[str, registry.Commune] = {}
    communes = registry.all_communes()
    for commune in communes:
        for former in commune.former:
            index.setdefault(normalise_commune_name(former.name), commune)
    for commune in communes:
        index[normalise_commune_name(commune.name)] = commune
    return index


class Router:
    """Routes the datasets of one harvest job. Build it once per job: it resolves the owner once and
    caches each commune's organisation, so thousands of datasets cost a handful of queries."""

    def __init__(self, *, source_owner_org_id: str, routing_table: Mapping[str, str] | None = None) -> None:
        owner = model.Group.get(source_owner_org_id) if source_owner_org_id else None
        if owner is None or not owner.is_organization or owner.state != "active":
            # A job without an owner cannot keep its unroutable datasets anywhere: fail once, loudly.
            raise ValueError(f"harvest source owner {source_owner_org_id!r} is not an active organisation")
        self._owner = _org_of(owner)
        assert self._owner is not None
        self._owner_is_commune = _is_commune(owner)
        self._table = {normalise_commune_name(str(key)): str(target).strip()
                       for key, target in (routing_table or {}).items()
                       if normalise_commune_name(str(key)) and str(target or "").strip()}
        self._names = _name_index()
        self._metropole_name = normalise_commune_name(registry.METROPOLE_NAME)
        self._own_prefixes = self._own_commune_uri_prefixes()
        self._orgs: dict[str, _Org | None] = {}

    @staticmethod
    def _own_commune_uri_prefixes() -> tuple[str, ...]:
        """Where our commune URIs live: ckanext-dcat's base URI, and the site URL when it differs."""
        bases = {uris.base_uri(), str(tk.config.get("ckan.site_url") or "").rstrip("/")}
        return tuple(sorted(f"{_without_scheme(base)}/communes/" for base in bases if base))

    # ---------------------------------------------------------------------------- organisations

    def _org(self, target: str) -> _Org | None:
        """The active organisation of a commune (any of its codes or its SIREN), of the Métropole (its
        SIREN), or with that name or id; cached for the job."""
        if target not in self._orgs:
            self._orgs[target] = _org_of(programme.commune_group_for(target))
        return self._orgs[target]

    def _route_to(self, target: str, matched_by: str, value: str) -> Route | None:
        org = self._org(target)
        if org is None:
            return None
        return Route(org_id=org.id, org_name=org.name, insee=org.insee, matched_by=matched_by,
                     matched_value=value, unrouted_values=())

    # ---------------------------------------------------------------------------- rules

    def _by_table(self, value: str) -> Route | None:
        target = self._table.get(normalise_commune_name(value))
        return self._route_to(target, "table", value) if target else None

    def _by_identifier(self, value: str) -> Route | None:
        """SIREN, SIRET or INSEE code (current, former, arrondissement)."""
        code = _compact(value)
        if _DIGITS.match(code) and len(code) in (9, 14):
            return self._by_siren(code[:9], value)
        if registry.INSEE_RE.match(code):
            return self._by_insee_code(code, value)
        return None

    def _by_siren(self, siren: str, value: str) -> Route | None:
        # registry.get_commune also resolves INSEE codes: a 9-digit key can only be a SIREN.
        if siren == registry.METROPOLE_SIREN or registry.get_commune(siren) is not None:
            return self._route_to(siren, "siren", value)
        return None

    def _by_insee_code(self, code: str, value: str, matched_by: str | None = None) -> Route | None:
        commune = registry.get_commune(code)
        if commune is None or not registry.INSEE_RE.match(code):
            return None
        if matched_by is None:
            if code == commune.insee:
                matched_by = "insee"
            elif code in commune.arrondissements:
                matched_by = "arrondissement"
            else:
                matched_by = "former_insee"
        return self._route_to(commune.insee, matched_by, value)

    def _by_uri(self, value: str) -> Route | None:
        text = value.strip()
        if not re.match(r"^https?://", text, re.IGNORECASE):
            return None
        parts = urlsplit(text)
        if parts.netloc.lower() == _INSEE_URI_HOST:
            found = _INSEE_URI_PATH.match(parts.path)
            return self._by_insee_code(found.group(1).upper(), value, "insee_uri") if found else None
        if parts.netloc.lower() == _SIREN_PAGE.netloc and parts.path.startswith(_SIREN_PAGE.path):
            siren = parts.path[len(_SIREN_PAGE.path):].strip("/")
            return self._by_siren(siren, value) if registry.SIREN_RE.match(siren) else None
        bare = _without_scheme(text)
        for prefix in self._own_prefixes:
            if bare.startswith(prefix):
                code = bare[len(prefix):].upper()
                if registry.INSEE_RE.match(code):
                    return self._by_insee_code(code, value, "insee_uri")
        return None

    def _by_name(self, value: str) -> Route | None:
        name = normalise_commune_name(value)
        if not name:
            return None
        if name == self._metropole_name:
            return self._route_to(registry.METROPOLE_SIREN, "name", value)
        commune = self._names.get(name)
        return self._route_to(commune.insee, "name", value) if commune else None

    # ---------------------------------------------------------------------------- routing

    def route(self, publisher_values: Sequence[str]) -> Route:
        """Where a dataset goes, given what its source says of its publisher (names, URIs, SIREN...),
        most authoritative first. Never raises for a strange value: it is reported instead."""
        owner = self._owner
        if self._owner_is_commune:
            return Route(org_id=owner.id, org_name=owner.name, insee=owner.insee, matched_by="source_owner",
                         matched_value="", unrouted_values=())
        tried: list[str] = []
        for raw in publisher_values or ():
            value = str(raw or "").strip()
            if not value or value in tried:
                continue
            for rule in (self._by_table, self._by_identifier, self._by_uri, self._by_name):
                route = rule(value)
                if route is not None:
                    return route
            tried.append(value)
        return Route(org_id=owner.id, org_name=owner.name, insee="", matched_by="unrouted",
                     matched_value="", unrouted_values=tuple(tried))


def route_dataset(
    publisher_values: Sequence[str], *, source_owner_org_id: str, routing_table: Mapping[str, str] | None = None,
) -> Route:
    """Route one dataset (for many, build a Router once and call its route method)."""
    router = Router(source_owner_org_id=source_owner_org_id, routing_table=routing_table)
    return router.route(publisher_values)


def validate_routing_table(table: Any) -> list[str]:
    """Errors (in the user's language) of a source's routing table; [] when it is fine or absent.

    Keys are publisher values as the source writes them; values are the INSEE code of a commune of the
    Métropole that has an organisation (former codes and arrondissements accepted), or the name of an
    existing active organisation."""
    if table is None:
        return []
    if not isinstance(table, Mapping):
        return [gettext("The routing table must be an object whose keys are publisher values and whose "
                        "values are INSEE codes or organisation names.")]
    if len(table) > MAX_TABLE_ENTRIES:
        return [gettext("The routing table has {count} entries: at most {max} are allowed.").format(
            count=len(table), max=MAX_TABLE_ENTRIES)]
    errors: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for key, target in table.items():
        if not isinstance(key, str) or not normalise_commune_name(key):
            errors.append(gettext("Routing table: the key “{key}” designates no publisher (empty or "
                                  "punctuation only).").format(key=key))
            continue
        if not isinstance(target, str) or not target.strip():
            errors.append(gettext("Routing table, key “{key}”: the value must be an INSEE code or an "
                                  "organisation name.").format(key=key))
            continue
        target = target.strip()
        normalised = normalise_commune_name(key)
        if normalised in seen and seen[normalised][1] != target:
            errors.append(gettext("Routing table: the keys “{key}” and “{other}” designate the same "
                                  "publisher but different organisations.").format(key=key, other=seen[normalised][0]))
            continue
        seen.setdefault(normalised, (key, target))
        if programme.commune_group_for(target) is not None:
            continue
        commune = registry.get_commune(target)
        if commune is not None and registry.INSEE_RE.match(_compact(target)):
            errors.append(gettext("Routing table, key “{key}”: {commune} ({code}) has no organisation on "
                                  "the portal yet.").format(key=key, commune=commune.name, code=target))
        else:
            errors.append(gettext("Routing table, key “{key}”: “{value}” is neither the INSEE code of a "
                                  "commune of the Métropole de Lyon with an organisation nor the name of an "
                                  "existing organisation.").format(key=key, value=target))
    return errors
