"""What a distribution states for data.europa.eu's Metadata Quality Assessment (issue #25 item 3), written only
from what the portal knows, never guessed:

- ``dcat:downloadURL``: the resource's URL when it is a file: an upload (the portal serves it), or a link
  whose format is an EU file type that designates a file, not a service (WMS, WFS...: dcat/services.py) nor a
  web page (HTML), and which the link checker did not find to be a web page. A stored ``download_url`` is
  ckanext-dcat's to write; ``dcat:accessURL`` (mandatory) stays;
- ``dcat:mediaType``: IANA media types that are REGISTERED (data/iana-media-types.csv): the one stored when
  registered (or unknown to our list: the editor's to state); a spelling our file-type list knows but IANA
  never registered (``application/x-gzip``, ``application/vnd.geo+json``) becomes the registered type of its
  file type, or goes when there is none (RSS, 7-Zip); none stored: the registered type of the format;
- ``dcat:byteSize``: the stored ``size``, else the size the link checker measured (Content-Length, or a 206's
  Content-Range total) on the resource's CURRENT URL, for a file;
- ``dct:modified``: the stored ``modified``, else ``last_modified`` (when the data last changed: an upload),
  else ckanext-dcat's ``metadata_modified``.

Not written: ``dct:rights``. DCAT-AP 3 has it for rights "not covered by" the licence and the access rights;
the portal stores no such statement of its own (a harvested ``rights`` is written by ckanext-dcat), and one
made from the licence would repeat ``dct:license`` for the MQA's 5 points.

The link checker's results live in the quality room, above this one: they reach the profile through the
``communes_measured_links`` signal (CKAN's signals), to which the quality room subscribes (plugin.py).
"""

from __future__ import annotations

import csv
import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.dcat.services import service_kind

log = logging.getLogger(__name__)

MEDIA_TYPES_FILE = os.path.join(os.path.dirname(__file__), "data", "iana-media-types.csv")
# File types whose distribution is a page to read, not a file to download.
WEB_PAGE_FILE_TYPES = frozenset({"HTML"})
# Media types a link checker sees on a web page (a landing page behind a link said to be a file).
WEB_PAGE_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Sent with a dataset id as sender; a subscriber returns {resource id: MeasuredLink} of the links it checked.
measured_links_signal = tk.signals.ckanext.signal("communes_measured_links")


@dataclass(frozen=True)
class MeasuredLink:
    """What the link checker found on a resource's link, when it reached it (2xx)."""

    url: str  # the URL checked: a result is the resource's only while the resource keeps that URL
    size: int | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class _MediaTypes:
    preferred: dict[str, str]  # EU file-type code -> its registered media type
    registered: frozenset[str]


@functools.cache
def _media_types() -> _MediaTypes:
    with open(MEDIA_TYPES_FILE, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    preferred = {row["file_type"]: row["media_type"] for row in rows if row["preferred"] == "yes"}
    return _MediaTypes(preferred=preferred, registered=frozenset(row["media_type"] for row in rows))


def registered_media_type(file_type_code: str | None) -> str | None:
    """The registered IANA media type of an EU file type (``CSV`` -> ``text/csv``); None when it has none."""
    return _media_types().preferred.get(file_type_code or "")


def is_registered(media_type: str) -> bool:
    return _plain(media_type) in _media_types().registered


def _plain(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def media_type_for(stored: str | None, file_type_code: str | None) -> str | None:
    """The media type to state (plain, no parameters), or None."""
    plain = _plain(stored or "")
    if not plain:
        return registered_media_type(file_type_code)
    if is_registered(plain):
        return plain
    from ckanext.communes.vocabularies import guess_file_type

    spelled = guess_file_type(media_type=plain)
    if spelled is None or plain not in _listed_media_types(spelled):
        return plain  # not a spelling our list knows: the editor's (or the source's) to state
    return registered_media_type(spelled.code)


def _listed_media_types(term: Any) -> set[str]:
    from ckanext.communes.vocabularies import split_multi

    return {_plain(value) for value in split_multi(term.extra.get("media_types"))}


def is_file(resource_dict: dict[str, Any], file_type_code: str | None, measured: MeasuredLink | None) -> bool:
    """Whether the resource is a file one downloads (see the module's docstring)."""
    if resource_dict.get("url_type") == "upload":
        return True
    if not file_type_code or service_kind(file_type_code) is not None or file_type_code in WEB_PAGE_FILE_TYPES:
        return False
    return not (measured is not None and _plain(measured.media_type or "") in WEB_PAGE_MEDIA_TYPES)


def current_measure(resource_dict: dict[str, Any], measured: dict[str, MeasuredLink]) -> MeasuredLink | None:
    """The link checker's result for the resource's current URL (None if it was measured at another)."""
    found = measured.get(resource_dict.get("id") or "")
    url = (resource_dict.get("url") or "").strip()
    return found if found is not None and url and found.url == url else None


def download_url(resource_dict: dict[str, Any], file_type_code: str | None, measure: MeasuredLink | None) -> str | None:
    """The dcat:downloadURL to add; None when one is stored (ckanext-dcat wrote it) or the resource is no file."""
    url = (resource_dict.get("url") or "").strip()
    if resource_dict.get("download_url") or not url.startswith(("http://", "https://")):
        return None
    return url if is_file(resource_dict, file_type_code, measure) else None


def written_download_url(parsed: dict[str, Any], file_type_code: str | None) -> bool:
    """Whether a distribution parsed back has the dcat:downloadURL this module writes (its URL, also its access
    URL, a file): not a value the resource stored. A source's downloadURL on a link of unknown format is kept."""
    url = parsed.get("url")
    return bool(url) and parsed.get("download_url") == url and parsed.get("access_url", url) == url and is_file(
        parsed, file_type_code, None)


def byte_size(resource_dict: dict[str, Any], file_type_code: str | None, measure: MeasuredLink | None) -> int | None:
    """The dcat:byteSize to add when none is stored: the measured size of a file."""
    if resource_dict.get("size") not in (None, ""):
        return None
    if measure is None or measure.size is None or measure.size < 0:
        return None
    return measure.size if is_file(resource_dict, file_type_code, measure) else None


def modified(resource_dict: dict[str, Any]) -> str | None:
    """The date to state as dct:modified instead of ckanext-dcat's fallback (metadata_modified), if any."""
    if resource_dict.get("modified"):
        return None
    return resource_dict.get("last_modified") or None


def measured_links(dataset_dict: dict[str, Any]) -> dict[str, MeasuredLink]:
    """What the subscribers of ``communes_measured_links`` measured on the dataset's links; asked only when a
    link without a stated size may use it. A subscriber's failure costs the sizes, never the response."""
    package_id = dataset_dict.get("id")
    if not package_id or not any(
        resource.get("size") in (None, "") and resource.get("url_type") != "upload"
        for resource in dataset_dict.get("resources") or []
    ):
        return {}
    found: dict[str, MeasuredLink] = {}
    try:
        for _receiver, result in measured_links_signal.send(package_id):
            found.update(result or {})
    except Exception:  # noqa: BLE001 - the RDF is served without measured sizes rather than not at all
        log.exception("The measured links of %s could not be read", package_id)
        return {}
    return found
