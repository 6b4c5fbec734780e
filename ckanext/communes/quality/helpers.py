"""Template helpers of the quality pages: the dataset's score block, the commune's summary, a resource's
link check and SCDL report."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.quality import background, evidence, mqa, scdl_schemas, score
from ckanext.communes.schema.values import as_list
from ckanext.communes.translation import french_number, ngettext

COMMUNE_ROWS = 20  # datasets listed on a commune page, worst first


def communes_quality(pkg: dict[str, Any]) -> dict[str, Any]:
    """The dataset's quality (package_show carries it; computed when a caller built the dict otherwise)."""
    return pkg.get("quality") or score.quality_of(pkg)


def communes_mqa_of_dataset(pkg: dict[str, Any]) -> dict[str, Any]:
    """data.europa.eu's MQA of the dataset (quality/mqa.py, from the stored evidence: two queries), its
    points written the French way (one decimal at most) for the page."""
    result = mqa.mqa_of([pkg["id"]]) if pkg.get("id") else mqa.assess([])
    result["points_text"] = french_number(round(result["points"], 1))
    for dimension in result["dimensions"]:
        dimension["points_text"] = french_number(round(dimension["points"], 1))
    for item in result["missed"]:
        item["lost_text"] = french_number(round(item["weight"] - item["points"], 1))
    return result


def communes_mqa_of_commune(org_id: str) -> dict[str, Any] | None:
    """The MQA of an organisation's datasets the current user may read (the ``communes_mqa`` action), its
    points written the French way; None when it has no dataset to assess."""
    try:
        result = tk.get_action("communes_mqa")({}, {"scope": "organization", "id": org_id})
    except (tk.ValidationError, tk.ObjectNotFound, tk.NotAuthorized):
        return None
    if not result["datasets"] and not result["pending"]:
        return None
    result["points_text"] = french_number(round(result["points"], 1))
    for dimension in result["dimensions"]:
        dimension["points_text"] = french_number(round(dimension["points"], 1))
    for item in result["missed"]:
        item["lost_text"] = french_number(round(item["weight"] - item["points"], 1))
        item["share_text"] = french_number(round(100 * item["share"]))
    return result


def communes_quality_label(criterion_id: str) -> str:
    return score.criterion_label(criterion_id)


def communes_quality_criteria() -> list[dict[str, Any]]:
    return [dict(item) for item in score.criteria()]


def communes_quality_of_commune(org_id: str) -> dict[str, Any] | None:
    """Mean score, how many datasets miss each criterion, and the datasets ranked by what they miss
    (lowest score first), for the datasets of an organisation the current user may see. One search:
    the mean comes from the facet of quality_score (every value with its count)."""
    try:
        result = tk.get_action("package_search")({}, {
            "fq": f'owner_org:"{org_id}" +dataset_type:{score.DATASET_TYPE}',
            "include_private": True,
            "rows": COMMUNE_ROWS,
            "sort": score.SORT_ASC,
            "facet": "true",
            "facet.field": [score.SCORE_FIELD, score.MISSED_FIELD],
            "facet.limit": -1,
        })
    except (tk.ValidationError, tk.ObjectNotFound):
        return None
    count = result["count"]
    if not count:
        return None
    facets = result.get("facets") or {}
    scored = facets.get(score.SCORE_FIELD) or {}
    scored_count = sum(scored.values())
    mean = sum(int(value) * n for value, n in scored.items()) / scored_count if scored_count else None
    missed = sorted((facets.get(score.MISSED_FIELD) or {}).items(), key=lambda item: (-item[1], item[0]))
    datasets = []
    for pkg in result["results"]:
        quality = pkg.get("quality") or score.quality_of(pkg)
        datasets.append({"name": pkg["name"], "title": pkg.get("title") or pkg["name"], "score": quality["score"],
                         "missed": quality["missed"]})
    return {
        "count": count,
        "mean": None if mean is None else round(mean),
        "missed": [{"criterion": cid, "label": score.criterion_label(cid), "count": n} for cid, n in missed],
        "datasets": datasets,
    }


def communes_quality_sort_options() -> list[tuple[str, str]]:
    return score.sort_options()


def communes_link_status(resource: dict[str, Any]) -> dict[str, Any] | None:
    """What the resource page shows of its link check, None for an upload."""
    if not resource or not evidence.checkable(resource):
        return None
    result = evidence.link_result_for_resource(resource["id"], resource.get("url"))
    return {
        "ok": result.ok, "status": result.status, "message": result.error, "checked_at": result.checked_at,
        "failing_since": result.failing_since, "consecutive_failures": result.consecutive_failures,
        "size": result.size, "media_type": result.media_type, "too_large": result.too_large,
        "final_url": result.final_url,
    }


def communes_scdl_result(resource_id: str) -> evidence.ScdlResult | None:
    """The SCDL result of a resource, None when it was never validated."""
    if not resource_id:
        return None
    return evidence.scdl_result_for_resource(resource_id)


def communes_scdl_error_label(error_type: str) -> str:
    return scdl_schemas.error_label(error_type)


def waiting_text(count: int) -> str:
    """« 1 204 jeux en attente de vérification »."""
    return ngettext("{count} dataset waiting for its checks", "{count} datasets waiting for their checks",
                    int(count)).format(count=french_number(count))


def communes_quality_waiting(harvest_job_id: str | None = None) -> str | None:
    """How many datasets (all, or those a harvest job saved) still wait for their quality checks, as the
    operators read it; None when none waits."""
    count = (background.waiting_count_for_harvest_job(harvest_job_id) if harvest_job_id
             else background.waiting_count())
    return waiting_text(count) if count else None


def communes_hvd_conditions(pkg: dict[str, Any]) -> dict[str, Any] | None:
    """For the page of a High-Value Dataset: its categories' labels and the regulation's conditions
    (``[{"key", "label", "met", "hint"}]``, quality/hvd.py) with the number missed; None for another dataset."""
    from ckanext.communes.quality import hvd
    from ckanext.communes.vocabularies import get_vocabulary

    if not isinstance(pkg, dict) or not hvd.is_hvd(pkg):
        return None
    vocabulary = get_vocabulary("hvd-category")
    try:
        lang = str(tk.h.lang() or "fr")
    except (RuntimeError, AttributeError, TypeError):  # outside a request
        lang = "fr"
    conditions = [{"key": c.key, "label": c.label, "met": c.met, "hint": c.hint} for c in hvd.conditions(pkg)]
    return {
        "categories": [vocabulary.label(value, lang) for value in as_list(pkg.get("hvd_category"))
                       if isinstance(value, str) and vocabulary.lookup(value) is not None],
        "conditions": conditions,
        "missed": sum(1 for c in conditions if not c["met"]),
        "total": len(conditions),
    }


def get_helpers() -> dict[str, Any]:
    return {
        "communes_hvd_conditions": communes_hvd_conditions,
        "communes_quality_waiting": communes_quality_waiting,
        "communes_quality_waiting_text": waiting_text,
        "communes_link_status": communes_link_status,
        "communes_scdl_result": communes_scdl_result,
        "communes_scdl_error_label": communes_scdl_error_label,
        "communes_quality": communes_quality,
        "communes_mqa_of_dataset": communes_mqa_of_dataset,
        "communes_mqa_of_commune": communes_mqa_of_commune,
        "communes_quality_label": communes_quality_label,
        "communes_quality_criteria": communes_quality_criteria,
        "communes_quality_of_commune": communes_quality_of_commune,
        "communes_quality_sort_options": communes_quality_sort_options,
    }
