"""The loaded table of a resource, read back as CSV for the checks above this room (quality/scdl.py): a
resource whose whole file xloader loaded into the DataStore after its last change is read with
``datastore_search`` instead of being downloaded again from the publisher's server."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.timestamps import parse_datetime

log = logging.getLogger(__name__)

# One datastore_search call returns at most ckan.datastore.search.rows_max rows (32000 by default): page through.
PAGE_ROWS = 10_000



def is_current(resource: dict[str, Any]) -> bool:
    """True when the resource's table in the DataStore holds its whole file as it is now: the resource is
    ``datastore_active``, xloader loaded every record (not a preview excerpt) and its load completed after the
    resource's last change (a new URL or file not loaded yet leaves an old table behind)."""
    if resource.get("datastore_active") is not True:
        return False
    if resource.get("datastore_contains_all_records_of_source_file") in (False, "False", "false"):
        return False
    try:
        task = tk.get_action("task_status_show")(
            {"ignore_auth": True}, {"entity_id": resource["id"], "task_type": "xloader", "key": "xloader"})
    except (tk.ObjectNotFound, KeyError):
        return False
    loaded_at = parse_datetime(task.get("last_updated"))
    modified = parse_datetime(resource.get("metadata_modified"))
    return task.get("state") == "complete" and loaded_at is not None and modified is not None \
        and loaded_at >= modified


def loaded_table_csv(resource: dict[str, Any], max_rows: int) -> bytes | None:
    """The first ``max_rows`` rows of the resource's loaded table as a UTF-8 CSV (its columns in order, the
    DataStore's ``_id`` left out, the rows in the file's order), or None when the table is not current
    (is_current) or cannot be read: the caller downloads the file then."""
    if not is_current(resource):
        return None
    try:
        search = tk.get_action("datastore_search")
    except KeyError:  # the DataStore is not loaded on this portal
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns: list[str] | None = None
    offset = 0
    try:
        while offset < max_rows:
            page = search({"ignore_auth": True}, {
                "resource_id": resource["id"], "limit": min(PAGE_ROWS, max_rows - offset), "offset": offset,
                "sort": "_id", "include_total": False})
            if columns is None:
                columns = [field["id"] for field in page["fields"] if field["id"] != "_id"]
                writer.writerow(columns)
            records = page["records"]
            for record in records:
                writer.writerow(["" if record.get(name) is None else record[name] for name in columns])
            offset += len(records)
            if len(records) < page.get("limit", PAGE_ROWS):
                break
    except (tk.ObjectNotFound, tk.ValidationError) as error:
        log.info("The DataStore table of resource %s could not be read (%s): downloading the file", resource["id"],
                 error)
        return None
    return out.getvalue().encode("utf-8")
