"""CKAN source type: another CKAN portal's ``package_search``, paged, mapped onto our schema.

Unlike ckanext-harvest's own CKAN harvester (which never deletes: its issue #542), a dataset the remote
portal no longer lists is withdrawn, under the core's circuit breaker. The GUID is the remote dataset id,
so a renamed remote slug updates the same dataset. The remote organisation (title, name) and publisher
route the dataset to a commune.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.communes.harvesters.base import (
    CommunesHarvester,
    GatherContext,
    SourceError,
    SourcePage,
    SourceRecord,
)
from ckanext.communes.net import fetch as guarded
from ckanext.communes.translation import N_
from ckanext.harvest.interfaces import IHarvester

PAGE_SIZE = 100
MAX_PAGES = 10_000
# Fields of a remote CKAN dataset taken as they are (a remote portal with ckanext-dcat's scheming schema,
# like this one, has them at the top level; a plain CKAN may carry them as extras).
CARRIED_FIELDS = ("title", "notes", "url", "version", "theme", "frequency", "language", "access_rights",
                  "spatial_coverage", "temporal_coverage", "contact", "conforms_to", "issued", "modified",
                  "identifier", "provenance", "documentation", "license_id")
# Extras of a plain CKAN (and of ckanext-dcat's older profiles) and the field each feeds.
EXTRA_TO_FIELD = {"theme": "theme", "frequency": "frequency", "language": "language",
                  "access_rights": "access_rights", "issued": "issued", "modified": "modified",
                  "identifier": "identifier", "conforms_to": "conforms_to", "spatial_uri": "spatial_coverage",
                  "contact_name": "contact", "contact_email": "contact"}
RESOURCE_FIELDS = ("url", "name", "description", "format", "mimetype", "size", "hash", "license", "issued",
                   "modified", "language", "conforms_to", "access_url", "download_url", "rights", "availability",
                   "status")


def search_url(source_url: str) -> str:
    base = source_url.rstrip("/")
    if base.endswith("/api/3/action/package_search"):
        return base
    return base + "/api/3/action/package_search"


def map_remote_dataset(remote: dict[str, Any]) -> dict[str, Any]:
    """A remote CKAN dataset as a dict of our schema's fields (vocabulary values left as written)."""
    dataset: dict[str, Any] = {key: remote[key] for key in CARRIED_FIELDS if remote.get(key) not in (None, "", [])}
    extras = {e.get("key"): e.get("value") for e in remote.get("extras") or [] if isinstance(e, dict)}
    contact: dict[str, str] = {}
    for key, field_name in EXTRA_TO_FIELD.items():
        value = extras.get(key)
        if not value or field_name in dataset and field_name != "contact":
            continue
        if field_name == "spatial_coverage":
            dataset[field_name] = [{"uri": value}]
        elif field_name == "contact":
            contact["name" if key == "contact_name" else "email"] = value
        else:
            dataset[field_name] = value
    if contact and "contact" not in dataset:
        dataset["contact"] = [contact]
    if not dataset.get("license_id") and remote.get("license_url"):
        dataset["license_id"] = remote["license_url"]
    dataset["tags"] = [{"name": t.get("name")} for t in remote.get("tags") or [] if isinstance(t, dict)]
    dataset["resources"] = [
        {key: resource[key] for key in RESOURCE_FIELDS if resource.get(key) not in (None, "", [])}
        for resource in remote.get("resources") or [] if isinstance(resource, dict) and resource.get("url")
    ]
    return dataset


def publisher_values(remote: dict[str, Any]) -> list[str]:
    values: list[str] = []
    publishers = remote.get("publisher") or []
    if isinstance(publishers, dict):
        publishers = [publishers]
    for publisher in publishers if isinstance(publishers, list) else []:
        if isinstance(publisher, dict):
            values += [str(publisher[k]) for k in ("identifier", "uri", "name") if publisher.get(k)]
    organization = remote.get("organization") or {}
    if isinstance(organization, dict):
        values += [str(organization[k]) for k in ("title", "name") if organization.get(k)]
    return values


class CommunesCKANHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_ckan"
    title = N_("CKAN portal")
    description = N_(
        "Another CKAN portal, read through its action API (package_search), e.g. https://ckan.example.fr. "
        "Optional configuration: {\"fq\": \"organization:ville-de-bron\"} to harvest part of it, "
        "{\"max_withdraw_percent\": 20}, {\"routing\": {\"ville-de-bron\": \"69029\"}}."
    )

    @property
    def type_config_keys(self) -> dict[str, Any]:  # type: ignore[override]
        def fq(value: Any) -> str | None:
            return None if isinstance(value, str) and len(value) <= 1000 else tk._("a Solr filter query (text)")

        return {"fq": fq}

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        base = search_url(ctx.source_url)
        start = 0
        total: int | None = None
        for _page in range(MAX_PAGES):
            query = {"rows": PAGE_SIZE, "start": start, "sort": "id asc"}
            if ctx.config.get("fq"):
                query["fq"] = ctx.config["fq"]
            url = f"{base}?{urllib.parse.urlencode(query)}"
            response = ctx.fetch(url, accept="application/json")
            payload = guarded.parse_json(response.body, url)
            result = payload.get("result") if isinstance(payload, dict) and payload.get("success") else None
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise SourceError(url, tk._("{url}: not a CKAN package_search answer.").format(url=url))
            if total is None:
                total = int(result.get("count") or 0)
            datasets = result["results"]
            digest = hashlib.sha256(response.body).hexdigest()

            def records(datasets: list[Any] = datasets) -> Iterator[SourceRecord]:
                for remote in datasets:
                    if isinstance(remote, dict) and remote.get("id"):
                        yield SourceRecord(guid=str(remote["id"]), dataset=map_remote_dataset(remote),
                                           publisher_values=publisher_values(remote))

            yield SourcePage(url=url, content_hash=digest, records=records)
            start += len(datasets)
            if not datasets or start >= total:
                return
        raise SourceError(base, tk._("{url}: too many pages.").format(url=base))
