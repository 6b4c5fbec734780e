"""The quality room's plugin hooks (IPackageController, wired in plugin.py): the score in every
package_show and in the search index, the French labels of the missed-criterion facet, and the
background checks queued when a dataset is saved (background.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ckanext.communes.quality import background, evidence, score

log = logging.getLogger(__name__)


def _is_dataset(pkg_dict: dict[str, Any]) -> bool:
    return (pkg_dict.get("type") or score.DATASET_TYPE) == score.DATASET_TYPE


def after_dataset_show(context: dict[str, Any], pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.after_dataset_show: ``quality`` in every package_show (also in the
    dict indexed, which before_dataset_index then reuses)."""
    if _is_dataset(pkg_dict) and pkg_dict.get("id"):
        pkg_dict["quality"] = score.cached_quality_of(pkg_dict)
    return pkg_dict


def before_dataset_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_index: ``quality_score`` and ``vocab_quality_missed``."""
    if not _is_dataset(pkg_dict):
        return pkg_dict
    try:
        dataset = json.loads(pkg_dict.get("validated_data_dict") or "{}")
    except ValueError:
        dataset = {}
    # after_dataset_show ran on the validated dict in the same indexing pass: reuse its result.
    quality = dataset.get("quality") or score.quality_of(dataset or pkg_dict)
    pkg_dict[score.SCORE_FIELD] = score.padded(quality["score"])
    pkg_dict[score.MISSED_FIELD] = [item["criterion"] for item in quality["missed"]]
    return pkg_dict


def editor_save(context: dict[str, Any]) -> bool:
    """A commune editor's own save (the form or the API in a web request), not a harvest's: its checks go
    before any harvest's (background.PRIORITY_QUEUE)."""
    import flask

    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG

    return flask.has_request_context() and not context.get(HARVEST_CONTEXT_FLAG)


def after_dataset_change(context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
    """IPackageController.after_dataset_create / after_dataset_update: the dataset waits for its quality
    checks (SHACL, SCDL, links), done in the background after the save commits (background.py). Never
    refuses a save."""
    if not _is_dataset(pkg_dict) or not pkg_dict.get("id") or pkg_dict.get("state", "active") != "active":
        return
    try:
        background.after_dataset_change(pkg_dict["id"], priority=editor_save(context))
    except Exception:  # noqa: BLE001 - a save never fails because its checks could not be scheduled
        log.exception("The quality checks of %s could not be scheduled", pkg_dict["id"])


def after_dataset_search(search_results: dict[str, Any], search_params: dict[str, Any]) -> dict[str, Any]:
    """French labels of the missed-criterion facet items (display_name), for the page and the API."""
    block = (search_results.get("search_facets") or {}).get(score.MISSED_FIELD)
    for item in (block or {}).get("items", []):
        item["display_name"] = score.criterion_label(item["name"])
    return search_results


def on_measured_links(sender: str, **kwargs: Any) -> dict[str, Any]:
    """Subscriber of the DCAT profile's ``communes_measured_links`` signal (sent with a dataset id): the sizes
    and media types the link checker measured, which the RDF states (dcat/distribution.py)."""
    return evidence.measured_links(sender)
