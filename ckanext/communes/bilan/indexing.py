"""Index fields the bilan aggregates, beyond those of schema/indexing.py and quality/hooks.py.

- ``vocab_scdl_schema`` (multi-valued): the SCDL vocabulary codes (``scdl/subventions``...) the dataset
  declares, in its own ``conforms_to`` or in a resource's, by the rule of the quality criterion ``scdl``
  (so that "valid" below is exactly that criterion met).
- ``communes_harvest_source``: the id of the harvest source the dataset comes from: its current harvest
  object's (our harvesters flag the object current in the dataset's own transaction, before
  ``package_create`` indexes it: harvesters/base.py), else the object being imported right now (state
  IMPORT, pointing at this dataset: a harvester that flags it only afterwards, as ckanext-harvest's
  own do).
- ``vocab_bilan`` (multi-valued): what the bilan counts about the dataset, as ``kind:value`` keys (see
  :func:`bilan_keys`): its score, month of creation, licence, frequency, harvest source, missed criteria,
  SCDL schemas and their validity, the High-Value Dataset conditions met (:func:`hvd_keys`). The bilan needs a
  dozen counts per commune: one terms facet on this field nested in the commune facet gives them all in one pass
  over the index, where a facet per figure (quality_score, license_id, vocab_quality_missed, ranges per month...)
  cost three times as much over 580,000 datasets (dev/bench/bilan.py).

Run ``ckan search-index rebuild`` once after upgrading, so that existing datasets get them.
"""

from __future__ import annotations

import json
from typing import Any

from ckan import model

from ckanext.communes.schema.values import as_list

SCDL_FIELD = "vocab_scdl_schema"
HARVEST_SOURCE_FIELD = "communes_harvest_source"
KEYS_FIELD = "vocab_bilan"
DATASET_TYPE = "dataset"
IMPORTING = "IMPORT"


def scdl_codes(dataset: dict[str, Any]) -> list[str]:
    """The SCDL vocabulary codes a dataset dict declares, by the rule of the quality criterion ``scdl``
    (quality/score.py): the dataset's conforms_to values that are terms of the scdl-schema vocabulary,
    then the shipped schema each resource declares (its own conforms_to, else the dataset's)."""
    from ckanext.communes.quality import scdl_schemas
    from ckanext.communes.vocabularies import get_vocabulary

    vocabulary = get_vocabulary("scdl-schema")
    codes: list[str] = []
    for value in as_list(dataset.get("conforms_to")):
        term = vocabulary.lookup(value)
        if term is not None and term.code not in codes:
            codes.append(term.code)
    for resource in dataset.get("resources") or []:
        schema = scdl_schemas.declared_schema(resource, dataset) if isinstance(resource, dict) else None
        if schema is not None and schema.code not in codes:
            codes.append(schema.code)
    return codes


def harvest_source_of(package_id: str) -> str | None:
    """The harvest source of a dataset: its current harvest object's, else the one importing it now."""
    from ckanext.harvest.model import HarvestObject

    if not package_id:
        return None
    row = (
        model.Session.query(HarvestObject.harvest_source_id)
        .filter(HarvestObject.package_id == package_id,
                (HarvestObject.current.is_(True)) | (HarvestObject.state == IMPORTING))
        .order_by(HarvestObject.current.desc(), HarvestObject.import_started.desc().nullslast())
        .first()
    )
    return row[0] if row is not None else None


# Prefixes of the keys of vocab_bilan (read back by bilan/facets.py).
SCORE, MONTH, LICENCE, SOURCE, MISSED = "score:", "month:", "lic:", "src:", "missed:"
SCDL_SCHEMA, SCDL_VALID_SCHEMA = "scdl:", "scdl_ok:"
# Flags: declares a frequency / and respects it; declares a SCDL schema / and validates.
FREQUENCY_DECLARED, FREQUENCY_RESPECTED, SCDL_DECLARED, SCDL_VALID = "freq", "freq_ok", "scdl", "scdl_ok"
# High-Value Datasets (quality/hvd.py): the flag of an HVD, of one meeting every condition, and each condition met.
HVD, HVD_OK, HVD_MET = "hvd", "hvd_ok", "hvd_met:"


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def bilan_keys(doc: dict[str, Any]) -> list[str]:
    """The vocab_bilan keys of an index document, from the fields the other hooks set: quality_score and
    vocab_quality_missed (quality/hooks.py), vocab_frequency (schema/indexing.py), license_id,
    metadata_created (CKAN), vocab_scdl_schema and communes_harvest_source (above)."""
    from ckanext.communes.quality import frequency

    missed = _as_list(doc.get("vocab_quality_missed"))
    keys = [MISSED + criterion for criterion in missed]
    if doc.get("quality_score") not in (None, ""):
        keys.append(SCORE + str(doc["quality_score"]))
    created = str(doc.get("metadata_created") or "")
    if len(created) >= 7:
        keys.append(MONTH + created[:7])
    if str(doc.get("license_id") or "").strip():
        keys.append(LICENCE + str(doc["license_id"]).strip())
    if doc.get(HARVEST_SOURCE_FIELD):
        keys.append(SOURCE + str(doc[HARVEST_SOURCE_FIELD]))
    undeclared = set(frequency.rules()["undeclared"]["codes"])
    if [code for code in _as_list(doc.get("vocab_frequency")) if code not in undeclared]:
        keys.append(FREQUENCY_DECLARED)
        if "frequency" not in missed:
            keys.append(FREQUENCY_RESPECTED)
    schemas = _as_list(doc.get(SCDL_FIELD))
    if schemas:
        valid = "scdl" not in missed
        keys += [SCDL_DECLARED] + [SCDL_SCHEMA + code for code in schemas]
        if valid:
            keys += [SCDL_VALID] + [SCDL_VALID_SCHEMA + code for code in schemas]
    return keys


def hvd_keys(dataset: dict[str, Any]) -> list[str]:
    """The vocab_bilan keys of a High-Value Dataset (none for another dataset), from its validated dict: the
    regulation's conditions are judged when the dataset is indexed (the nightly recompute reindexes it)."""
    from ckanext.communes.quality import hvd

    if not hvd.is_hvd(dataset):
        return []
    met = [condition.key for condition in hvd.conditions(dataset) if condition.met]
    return [HVD] + [HVD_MET + key for key in met] + ([HVD_OK] if len(met) == len(hvd.CONDITION_KEYS) else [])


def before_dataset_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_index (chained in plugin.py)."""
    if (pkg_dict.get("type") or DATASET_TYPE) != DATASET_TYPE:
        return pkg_dict
    try:
        dataset = json.loads(pkg_dict.get("validated_data_dict") or "{}")
    except ValueError:
        dataset = {}
    codes = scdl_codes(dataset or pkg_dict)
    if codes:
        pkg_dict[SCDL_FIELD] = codes
    source = harvest_source_of(pkg_dict.get("id") or "")
    if source:
        pkg_dict[HARVEST_SOURCE_FIELD] = source
    pkg_dict[KEYS_FIELD] = bilan_keys(pkg_dict) + hvd_keys(dataset or {})
    return pkg_dict
