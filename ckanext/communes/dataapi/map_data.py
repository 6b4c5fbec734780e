"""The data of a resource's map preview (issue #23 item 4), fetched by the server through the guarded client.

ckanext-geoview's Leaflet view reads its GeoJSON either from the reader's browser (a request to an outside host
on every page view) or through CKAN's ``resource_proxy`` / its own ``service_proxy`` (plain ``requests``: any
address, so a commune editor could make the server fetch an internal URL and show it on a map). Neither is
loaded; the view (map_view.py) reads this portal's own endpoint (views.py), which serves one resource's own
data and nothing else:

* only a resource the caller may read (``resource_show``'s authorisation: a private dataset's resource is
  refused to anonymous visitors and to other communes), of a map format (GeoJSON, WFS);
* only the resource's own URL: no URL is ever taken from the request, so this is no open proxy;
* a link is fetched with ``open_guarded`` (http and https only, no private, loopback or link-local address,
  checked again on every redirect and connection, unless the operators allow them), within a size limit and a
  time budget, its starts limited per host; an upload is read from CKAN's storage;
* a WFS link becomes a GetFeature request asking GeoJSON, its layer the one the URL names (``typeName``
  parameter or ``#layer``, geoview's convention) or else the first of the service's GetCapabilities (parsed by
  the safe XML parser). The GeoJSON output format: the link's own ``outputFormat`` when it names a JSON one, else
  ``application/json`` (GeoServer, QGIS Server, deegree), and when the service answers that with something else
  (MapServer, which names it ``application/json; subtype=geojson`` or ``geojson``), the JSON format its
  capabilities advertise for GetFeature, asked once more;
* what comes back must be declared as JSON (or as a generic type) and parse as a GeoJSON object.

Every refusal is a :class:`MapDataError` carrying an English msgid and its values, translated for the reader
by the view.

A link's data is kept in CKAN's Redis for ``ckanext.communes.map.cache_seconds`` (:func:`cached_map_data`), so
that a popular resource does not make the portal ask the commune's server at every view of its page, nor make
each reader wait for it. The view calls it only after ``resource_show``'s authorisation (the cache knows no
caller). Its key is the resource's id with a digest of what its data depends on: its URL (a WFS link's layer
and parameters are in it), format, kind, ``last_modified`` and ``metadata_modified``, and the map's size and
feature limits; a changed link or re-uploaded file is thus fetched again at once. Only a body that passed
every check is kept (never a refusal: a remote failure is asked again at the next view). An uploaded file is
not cached: it is read from the portal's own storage, not from a commune's server, and a copy in Redis (up to
``max_bytes`` per file) would cost the memory of Redis for a read no cheaper than the disk's. Redis
unavailable: fetched each time (logged), never refused."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ckan.plugins.toolkit as tk

from ckanext.communes.dataapi.options import guarded_limits
from ckanext.communes.dataapi.options import option_number as _option_number
from ckanext.communes.net import fetch as guarded
from ckanext.communes.net.host_limiter import HostLimiter
from ckanext.communes.translation import N_

# Resource formats (lower case) shown on a map, and how their data is read.
GEOJSON_FORMATS = frozenset({"geojson", "gjson"})
WFS_FORMATS = frozenset({"wfs"})
MAP_FORMATS = GEOJSON_FORMATS | WFS_FORMATS

# What a GeoJSON answer may be declared as: the JSON family, or nothing precise (a web server that does not
# know the .geojson extension). Anything else (a web page, XML, an image) is refused before being parsed.
JSON_MEDIA_TYPES = frozenset({"application/json", "application/geo+json", "application/vnd.geo+json",
                              "application/x-geojson", "text/json", "application/problem+json"})
GENERIC_MEDIA_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})
GEOJSON_TYPES = frozenset({"FeatureCollection", "Feature", "Point", "MultiPoint", "LineString",
                           "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"})
# Parameters of a WFS URL that the GetFeature request sets itself (lower case).
OGC_PARAMETERS = frozenset({"service", "version", "request", "outputformat", "typename", "typenames", "srsname",
                            "bbox", "maxfeatures", "count", "startindex", "resulttype"})
REDIS_KEY = "communes:map:host:{host}"
# The cached data of one resource (cached_map_data): the site's namespace, the resource's id, the digest of
# what its data depends on.
CACHE_KEY = "communes:map:{site_id}:data:{resource_id}:{digest}"
DEFAULT_CACHE_SECONDS = 300

log = logging.getLogger(__name__)

_limiter_lock = threading.Lock()
_limiters: dict[tuple[int, float], HostLimiter] = {}


class MapDataError(Exception):
    """Why a resource's map data cannot be served: an HTTP status and an English msgid with its values."""

    def __init__(self, http_status: int, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.status = http_status
        self.msgid = msgid
        self.values = values

    def message(self) -> str:
        """The reason in the reader's language (called within a request)."""
        return tk._(self.msgid).format(**self.values)



def max_bytes() -> int:
    return int(_option_number("ckanext.communes.map.max_bytes", 10 * 1024 * 1024))


def max_features() -> int:
    return max(1, int(_option_number("ckanext.communes.map.wfs_max_features", 5000)))


def cache_seconds() -> int:
    """How long a link's map data is kept in Redis; 0: not kept."""
    return int(_option_number("ckanext.communes.map.cache_seconds", DEFAULT_CACHE_SECONDS))


def map_limits() -> guarded.FetchLimits:
    """The portal's guard (private addresses, redirects) with the map's own size and time limits: a reader
    waits for this answer, so both are far below the loader's."""
    return guarded_limits(
        timeout=_option_number("ckanext.communes.map.request_timeout", 10),
        max_bytes=max_bytes(),
        max_seconds=_option_number("ckanext.communes.map.max_seconds", 30),
    )


def host_limiter() -> HostLimiter:
    """One limiter per process (its per-host semaphores must be shared by the requests it serves)."""
    concurrency = max(1, int(_option_number("ckanext.communes.map.per_host_concurrency", 2)))
    interval = _option_number("ckanext.communes.map.per_host_interval", 0)
    with _limiter_lock:
        key = (concurrency, interval)
        if key not in _limiters:
            _limiters[key] = HostLimiter(concurrency=concurrency, interval=interval, redis_key=REDIS_KEY)
        return _limiters[key]


def map_kind(resource: dict[str, Any]) -> str | None:
    """"geojson", "wfs", or None for a resource the map does not show."""
    resource_format = str(resource.get("format") or "").strip().lower()
    if resource_format in GEOJSON_FORMATS:
        return "geojson"
    if resource_format in WFS_FORMATS:
        return "wfs"
    return None


# The guarded client's refusals, by FetchError.reason, as the map words them; a private address is never named.
_REFUSALS: dict[str, tuple[int, str]] = {
    "private_address": (403, N_("The address of this resource is not public: the portal does not fetch it.")),
    "scheme": (403, N_("Only http and https addresses can be shown on the map.")),
    "too_large": (502, N_("The data of this resource is larger than the limit of {limit} bytes for the map; "
                          "download it instead.")),
    "timeout": (502, N_("The server of this resource took too long to answer.")),
    "job_timeout": (502, N_("The server of this resource took too long to answer.")),
    "dns": (502, N_("The host name of this resource's address cannot be resolved.")),
    "too_many_redirects": (502, N_("The address of this resource redirects too many times.")),
    "http_status": (502, N_("The server of this resource answered HTTP {status}.")),
}
_OTHER_REFUSAL = (502, N_("The data of this resource cannot be fetched (connection error)."))


def _refusal(error: guarded.FetchError) -> MapDataError:
    status, msgid = _REFUSALS.get(error.reason, _OTHER_REFUSAL)
    return MapDataError(status, msgid, limit=max_bytes(), status=error.status)


def _fetch(url: str) -> guarded.FetchedResponse:
    """GET through the guard, within the map's limits and the per-host limiter."""
    limits = map_limits()
    try:
        with host_limiter().slot(url):
            return guarded.fetch(url, limits, accept="application/geo+json, application/json;q=0.9, */*;q=0.1")
    except guarded.FetchError as error:
        raise _refusal(error) from error


def _read_upload(resource: dict[str, Any]) -> bytes:
    """An uploaded file, read from CKAN's storage (no HTTP request to our own site)."""
    from ckan.lib import uploader

    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    if not path or not os.path.isfile(path):
        raise MapDataError(404, N_("The uploaded file of this resource cannot be found on the server."))
    limit = max_bytes()
    if os.path.getsize(path) > limit:
        raise _refusal(guarded.FetchError(path, "too_large", ""))
    with open(path, "rb") as upload:
        return upload.read(limit + 1)


DEFAULT_WFS_FORMAT = "application/json"


def _is_json_format(name: str) -> bool:
    return "json" in name.lower()


def _wfs_parts(url: str) -> tuple[str, list[tuple[str, str]], str | None, str | None]:
    """The WFS URL without fragment, its own query parameters (OGC ones removed), the layer it names and the
    JSON output format it names (a link copied from a service's documentation often carries the right one)."""
    parts = urlsplit(url)
    layer: str | None = parts.fragment or None
    output_format: str | None = None
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in ("typename", "typenames") and value and not layer:
            layer = value.split(",")[0]
        if name.lower() == "outputformat" and _is_json_format(value):
            output_format = value.strip()[:100]
        if name.lower() not in OGC_PARAMETERS:
            kept.append((name, value))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, kept, layer, output_format


# GetFeature's JSON output formats, the more explicitly GeoJSON first.
_FORMAT_PREFERENCE = ("application/geo+json", "application/json; subtype=geojson", "application/json", "geojson")


def _with_query(base: str, parameters: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(parameters)}"


@dataclass(frozen=True)
class WfsCapabilities:
    layers: list[str]
    output_formats: list[str]  # GetFeature's, as advertised (WFS 1.1.0 and 2.0.0's OWS operations metadata)

    def geojson_format(self) -> str | None:
        """The advertised output format to ask GeoJSON with, or None when the service names no JSON one."""
        formats = [f.strip() for f in self.output_formats if _is_json_format(f)]
        by_name = {" ".join(f.lower().replace(";", "; ").split()): f for f in formats}
        for preferred in _FORMAT_PREFERENCE:
            if preferred in by_name:
                return by_name[preferred]
        return formats[0] if formats else None


def _capabilities(base: str, kept: list[tuple[str, str]]) -> WfsCapabilities:
    """The service's GetCapabilities (WFS 1.1.0), read with the safe XML parser (no entities, no DTD)."""
    answer = _fetch(_with_query(base, [*kept, ("service", "WFS"), ("version", "1.1.0"),
                                       ("request", "GetCapabilities")]))
    try:
        root = guarded.parse_xml(answer.body, answer.url)
    except guarded.FetchError as error:
        raise MapDataError(502, N_("The WFS service of this resource did not describe its layers.")) from error
    names = [str(n).strip() for n in root.xpath("//*[local-name()='FeatureType']/*[local-name()='Name']/text()")]
    formats = root.xpath("//*[local-name()='Operation'][@name='GetFeature']"
                         "/*[local-name()='Parameter'][translate(@name, 'OUTPUTFORMA', 'outputforma')='outputformat']"
                         "//*[local-name()='Value']/text()")
    return WfsCapabilities(layers=[n for n in names if n], output_formats=[str(f)[:100] for f in formats])


def _first_layer(capabilities: WfsCapabilities) -> str:
    if not capabilities.layers:
        raise MapDataError(502, N_("The WFS service of this resource did not describe its layers."))
    return capabilities.layers[0]


def wfs_getfeature_url(url: str, layer: str | None = None, output_format: str | None = None) -> str:
    """The GetFeature request (WFS 1.1.0: EPSG:4326 in longitude, latitude order) asking GeoJSON."""
    base, kept, named, named_format = _wfs_parts(url)
    layer = layer or named
    if not layer:
        raise ValueError("no layer")
    return _with_query(base, [*kept, ("service", "WFS"), ("version", "1.1.0"), ("request", "GetFeature"),
                              ("typeName", layer),
                              ("outputFormat", output_format or named_format or DEFAULT_WFS_FORMAT),
                              ("srsName", "EPSG:4326"), ("maxFeatures", str(max_features()))])


def _read_wfs(url: str) -> bytes:
    try:
        base, kept, layer, named_format = _wfs_parts(url)
    except ValueError as error:
        raise _refusal(guarded.FetchError(url, "scheme", "")) from error
    if urlsplit(base).scheme.lower() not in ("http", "https"):
        raise _refusal(guarded.FetchError(url, "scheme", ""))
    capabilities = None
    if not layer:
        capabilities = _capabilities(base, kept)
        layer = _first_layer(capabilities)
    output_format = named_format or (capabilities.geojson_format() if capabilities else None)
    answer = _fetch(wfs_getfeature_url(url, layer, output_format))
    try:
        return _check_geojson(answer.body, answer.content_type)
    except MapDataError:
        if output_format is not None or capabilities is not None:
            raise  # the link's or the service's own JSON format: nothing else to try
        # The default name refused (MapServer answers an exception report): the service's own, asked once more.
        advertised = _capabilities(base, kept).geojson_format()
        if advertised is None or advertised == DEFAULT_WFS_FORMAT:
            raise
        answer = _fetch(wfs_getfeature_url(url, layer, advertised))
        return _check_geojson(answer.body, answer.content_type)


def _check_geojson(body: bytes, media_type: str) -> bytes:
    if media_type not in JSON_MEDIA_TYPES and media_type not in GENERIC_MEDIA_TYPES:
        raise MapDataError(502, N_("The data of this resource is not GeoJSON (the server sent {media_type})."),
                           media_type=media_type)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MapDataError(502, N_("The data of this resource is not valid JSON.")) from error
    if not isinstance(data, dict) or data.get("type") not in GEOJSON_TYPES:
        raise MapDataError(502, N_("The data of this resource is JSON but not GeoJSON."))
    return body


def read_map_data(resource: dict[str, Any]) -> bytes:
    """The GeoJSON of a map resource the caller may read (the view checked it), or a MapDataError."""
    kind = map_kind(resource)
    if kind is None:
        raise MapDataError(404, N_("This resource is not shown on a map."))
    url = str(resource.get("url") or "")
    if resource.get("url_type") == "upload":
        if kind == "wfs":
            raise MapDataError(404, N_("This resource is not shown on a map."))
        return _check_geojson(_read_upload(resource), "")
    if kind == "geojson":
        answer = _fetch(url)
        return _check_geojson(answer.body, answer.content_type)
    return _read_wfs(url)


def cache_key(resource: dict[str, Any]) -> str:
    """The key of a resource's cached data: whatever its data depends on changes the key, so an edited link,
    a re-upload or other limits are fetched at once, the old entry left to expire."""
    depends_on = [str(resource.get(name) or "") for name in (
        "url", "format", "url_type", "last_modified", "metadata_modified")]
    depends_on += [str(max_bytes()), str(max_features())]
    digest = hashlib.sha256(json.dumps(depends_on).encode("utf-8")).hexdigest()
    return CACHE_KEY.format(site_id=tk.config.get("ckan.site_id") or "", resource_id=resource["id"], digest=digest)


def _redis() -> Any:
    from ckan.lib.redis import connect_to_redis

    return connect_to_redis()


def cached_map_data(resource: dict[str, Any]) -> bytes:
    """:func:`read_map_data`, a link's answer kept in Redis for ``cache_seconds``. To be called only for a
    resource the caller may read: the cache is shared by every caller."""
    seconds = cache_seconds()
    if seconds <= 0 or resource.get("url_type") == "upload" or map_kind(resource) is None:
        return read_map_data(resource)
    key = cache_key(resource)
    try:
        connection = _redis()
        found = connection.get(key)
    except Exception:  # noqa: BLE001 - Redis down: the map is still served, fetched each time
        log.warning("Map data cache unavailable: fetching without it", exc_info=True)
        return read_map_data(resource)
    if found is not None:
        return bytes(found)
    body = read_map_data(resource)  # a refusal (MapDataError) goes up: nothing is kept
    if len(body) <= max_bytes():
        try:
            connection.set(key, body, ex=seconds)
        except Exception:  # noqa: BLE001
            log.warning("Could not keep the map data of resource %s in the cache", resource["id"], exc_info=True)
    return body
