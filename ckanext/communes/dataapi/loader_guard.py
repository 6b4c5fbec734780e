"""Every download ckanext-xloader 2.6.0 makes goes through the guarded client (net/fetch.py).

xloader downloads a resource in one place, ``ckanext.xloader.jobs._download_resource_data(resource, data,
api_key, logger)``, which ``xloader_data_into_datastore_`` calls by its module-global name, with plain
``requests.get`` (``jobs.get_response``): any address, a proxy from the environment, no wall-clock limit. xloader
offers no interface to replace it (``IXloader.can_upload`` only says yes or no before the job is queued, and
its refusal is recorded nowhere the editor sees), so :func:`install` replaces both functions of that module,
once, at plugin load:

* ``_download_resource_data`` by :func:`download_resource_data`: a link is fetched with ``open_guarded`` (http
  and https only, no private or reserved address unless ``ckanext.communes.fetch.allow_private_addresses``,
  checked again on every connection and every redirect), its body streamed to the temporary file within
  ``ckanext.xloader.max_content_length`` bytes and ``ckanext.communes.datastore.*`` seconds, its start spaced per
  host (net/host_limiter.py); an uploaded file is read from CKAN's storage, not over HTTP. Any refusal is
  a ``JobError`` whose text is a French sentence: xloader stores it as the job's error, which the resource page
  shows (templates/package/resource_read.html). A file over the limit is refused whole: xloader's excerpt mode
  (``max_excerpt_lines``) would present the first lines as the table;
* ``get_response`` (xloader's plain ``requests.get``) by a function that refuses: if a later xloader calls it
  from elsewhere, the load fails instead of fetching unguarded.

tests/dataapi/test_loader_guard.py fails if xloader renames or moves these functions, changes their signature
or stops calling them by those names."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from typing import IO, Any

from ckanext.communes.dataapi.options import guarded_limits
from ckanext.communes.dataapi.options import option_number as _option_number
from ckanext.communes.net import fetch as guarded
from ckanext.communes.net.host_limiter import HostLimiter
from ckanext.communes.translation import N_

log = logging.getLogger(__name__)

REDIS_KEY = "communes:datastore:host:{host}"
# xloader's own default (ckanext.xloader.max_content_length), kept when the option is not set.
XLOADER_DEFAULT_MAX_BYTES = 1_000_000_000
CHUNK_SIZE = guarded.CHUNK_SIZE

# PostgreSQL's limit is 1,600 columns a table; the DataStore adds _id and _full_text.
MAX_COLUMNS = 1598
# What the content check reads of a downloaded file: its start, and at most this much of its first line.
SNIFF_BYTES = 1024 * 1024
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_TEXT_FORMATS = frozenset({"csv", "tsv", "txt", "text/csv", "text/tab-separated-values"})
# What install() replaced, to tell an installed guard from xloader's own function.
_ORIGINALS: dict[str, Any] = {}



def max_bytes() -> int:
    """The loader's size limit: xloader's own option, so that one setting says it."""
    return int(_option_number("ckanext.xloader.max_content_length", XLOADER_DEFAULT_MAX_BYTES))


def loader_limits() -> guarded.FetchLimits:
    """The guard of the portal (private addresses, redirects) with the loader's size and time limits."""
    return guarded_limits(
        timeout=_option_number("ckanext.communes.datastore.request_timeout", 30),
        max_bytes=max_bytes(),
        max_seconds=_option_number("ckanext.communes.datastore.max_seconds", 900),
    )


def host_limiter() -> HostLimiter:
    return HostLimiter(
        concurrency=int(_option_number("ckanext.communes.datastore.per_host_concurrency", 1)),
        interval=_option_number("ckanext.communes.datastore.per_host_interval", 2),
        redis_key=REDIS_KEY,
    )


def _job_error(msgid: str, **values: Any) -> Exception:
    """xloader's JobError carrying the reason as an English msgid and its values, in JSON: xloader stores the
    text as the job's error (and xloader_status reads it back as JSON), and the resource page translates it
    for its reader (helpers.load_error); the worker that fails has no reader, hence no language."""
    from ckanext.xloader.job_exceptions import JobError

    return JobError(json.dumps({"message": msgid.format(**values), "msgid": msgid, "values": values},
                               ensure_ascii=False))


# The refusals of the guarded client, by FetchError.reason, as the loader words them (its own messages speak
# of harvesting and are translated in the worker, which has no reader).
_REFUSALS = {
    "private_address": N_(
        "{url}: this address is not public, and the portal only downloads files from public addresses."),
    "too_large": N_("{url}: the file is larger than the limit of {limit} bytes; nothing of it was loaded."),
    "timeout": N_("{url}: the download took too long."),
    "job_timeout": N_("{url}: the download took too long."),
    "scheme": N_("{url}: only http and https addresses can be loaded."),
    "dns": N_("{url}: the host name cannot be resolved."),
    "too_many_redirects": N_("{url}: too many redirects."),
    "http_status": N_("{url}: the server answered HTTP {status}."),
}
_OTHER_REFUSAL = N_("{url}: the download failed (connection error).")


def _refusal(error: guarded.FetchError) -> Exception:
    """The JobError of a refused download. A private address is never named (see net/fetch.py): the URL
    the editor typed is."""
    msgid = _REFUSALS.get(error.reason, _OTHER_REFUSAL)
    return _job_error(msgid, url=error.url, limit=max_bytes(), status=error.status)


def _temporary_file(url: str) -> IO[bytes]:
    """A temporary file whose suffix is the URL's file name, as xloader's get_tmp_file (its loader reads the
    extension)."""
    name = url.split("/")[-1].split("#")[0].split("?")[0]
    return tempfile.NamedTemporaryFile(suffix=name[-100:])


def _copy_upload(resource: dict[str, Any], tmp_file: IO[bytes], digest: Any, limit: int) -> int:
    """An uploaded file, read from CKAN's storage: no HTTP request to our own site (which may well be on a
    private address, and needs no guard)."""
    from ckan.lib import uploader

    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    if not path or not os.path.isfile(path):
        raise _job_error(N_("the uploaded file of this resource cannot be found on the server."))
    size = os.path.getsize(path)
    if size > limit:
        raise _job_error(N_("the uploaded file is larger than the limit of {limit} bytes; nothing of it was loaded."),
                         limit=limit)
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            tmp_file.write(chunk)
            digest.update(chunk)
    return size


def _check_content(tmp_file: IO[bytes], url: str, resource_format: str) -> None:
    """Refuse before loading what xloader would load wrongly or fail on deep in PostgreSQL: a web page (an HTML
    error or login page saved under a .csv name would become a one-column table), and a text table wider
    than PostgreSQL allows (a first line of 10,000 columns)."""
    tmp_file.flush()
    tmp_file.seek(0)
    start = tmp_file.read(SNIFF_BYTES)
    tmp_file.seek(0)
    head = start.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_HTML_STARTS) or b"<html" in head[:1024]:
        raise _job_error(N_("{url}: the file is a web page (HTML), not a table."), url=url)
    extension = url.split("?")[0].split("#")[0].rsplit(".", 1)[-1].lower()
    if resource_format.lower() not in _TEXT_FORMATS and extension not in ("csv", "tsv", "txt"):
        return
    first_line = start.split(b"\n", 1)[0]
    columns = 1 + max(first_line.count(sep) for sep in (b",", b";", b"\t", b"|"))
    if columns > MAX_COLUMNS:
        raise _job_error(N_(
            "{url}: the table has {count} columns, more than the {max} the DataStore accepts; nothing of it "
            "was loaded."), url=url, count=columns, max=MAX_COLUMNS)


def _fetch_link(url: str, tmp_file: IO[bytes], digest: Any) -> int:
    limits = loader_limits()
    length = 0
    with host_limiter().slot(url), guarded.open_guarded(url, limits) as opened:
        if opened.status >= 300:
            raise _job_error(_REFUSALS["http_status"], url=url, status=opened.status)
        for chunk in opened.body_chunks():
            tmp_file.write(chunk)
            digest.update(chunk)
            length += len(chunk)
    return length


def download_resource_data(resource: dict[str, Any], data: dict[str, Any], api_key: str | None,
                           logger: logging.Logger) -> tuple[IO[bytes], str]:
    """xloader's ``_download_resource_data``, through the guard: the temporary file (at its start) and the MD5
    of its content (xloader compares it with the resource's hash to skip an unchanged file)."""
    url = resource.get("url") or ""
    tmp_file = _temporary_file(url)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        if resource.get("url_type") == "upload":
            logger.info("Reading the uploaded file of resource %s", resource.get("id"))
            length = _copy_upload(resource, tmp_file, digest, max_bytes())
        else:
            logger.info("Fetching through the guarded client: %s", url)
            length = _fetch_link(url, tmp_file, digest)
        _check_content(tmp_file, url, str(resource.get("format") or ""))
    except guarded.FetchError as error:
        tmp_file.close()
        log.warning("DataStore load of resource %s refused: %r", resource.get("id"), error)
        raise _refusal(error) from error
    except BaseException:
        tmp_file.close()
        raise
    data["datastore_contains_all_records_of_source_file"] = True
    logger.info("Downloaded %s bytes", length)
    tmp_file.flush()
    tmp_file.seek(0)
    return tmp_file, digest.hexdigest()


def refuse_unguarded_get(url: str, headers: dict[str, str]) -> Any:
    """Stands for xloader's ``get_response`` (plain ``requests.get``): never fetch outside the guard."""
    raise _job_error(N_("{url}: the portal only downloads through its guarded client."), url=url)


def install() -> bool:
    """Replace xloader's download functions (once). False when ckanext-xloader is not installed."""
    try:
        from ckanext.xloader import jobs
    except ImportError:
        return False
    if not _ORIGINALS:
        _ORIGINALS["_download_resource_data"] = jobs._download_resource_data
        _ORIGINALS["get_response"] = jobs.get_response
    jobs._download_resource_data = download_resource_data
    jobs.get_response = refuse_unguarded_get
    return True


def installed() -> bool:
    try:
        from ckanext.xloader import jobs
    except ImportError:
        return False
    return jobs._download_resource_data is download_resource_data and jobs.get_response is refuse_unguarded_get

