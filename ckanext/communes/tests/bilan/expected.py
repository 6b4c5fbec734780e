"""The figures of the portal of conftest.py, computed by hand.

Quality scores (criteria.yaml): every dataset meets dcat_properties 10, description 10, theme 5,
open_format 10 and spatial 5 (the commune, defaulted from the organisation): 40; and misses shacl (never
checked), temporal and contact (the seeded organisations have no referent). Then:

    B1  40 + licence 15 + frequency 10 + links 10 (checked, ok) + scdl 5 (valid)          = 80
    B2  40 + 0 (CC-BY) + 0 (late) + 0 (broken link) + scdl 5 (not applicable)             = 45
    B3  40 + licence 15 + 0 (no frequency) + 0 (link not checked yet) + 0 (SCDL invalid)  = 55
    L1  40 + licence 15 + 0 (UNKNOWN) + 0 (not checked) + 5                                = 60
    A1  40 + 0 (no licence) + 0 + 0 + 5                                                    = 45
    G1  40 + licence 15 + frequency 10 (NEVER) + 0 (not checked) + 5                       = 70

MQA (data.europa.eu, issue #25): no dataset of this portal has been SHACL-checked, so none has MQA facts:
"mqa_points" is empty everywhere (tests/bilan/test_mqa_action.py checks figures on a checked portal).

Obligation (population > 3,500; unknown agents: probably obliged, counted as obliged; fewer than 50
agents: not obliged): 44 communes of the registry have more than 3,500 inhabitants; Oullins-Pierre-Bénite
is set to 40 agents, so 43 are obliged. Phase 1 has 7 communes (all obliged), phase 2 five (all obliged),
generalisation one (Grigny, obliged), the non-partners 45 (30 obliged: 44 - 7 - 5 - 1 - Oullins).
"""

from __future__ import annotations

SCORES = {"b1": 80, "b2": 45, "b3": 55, "l1": 60, "a1": 45, "g1": 70}

NONE_VALUES = {
    "datasets": 0, "datasets_manual": 0, "datasets_harvested": 0, "licence_compliant_share": None,
    "quality_mean": None, "quality_median": None, "up_to_date_share": None, "links_ok_share": None,
    "scdl_datasets": 0, "scdl_valid_share": None, "first_published": None, "last_published": None,
}

COMMUNE_VALUES = {
    # B1, B2, B3: licences 2 of 3 on the list; scores 80, 45, 55; frequencies declared by B1 (respected) and
    # B2 (late); links checked: B1 ok, B2 broken; SCDL: B1 valid, B3 not; convention ends 2025-06-01 (one
    # year after its signature), 92 days after 2025-03-01.
    "69029": {"datasets": 3, "datasets_manual": 2, "datasets_harvested": 1, "licence_compliant_share": 0.6667,
              "quality_mean": 60.0, "quality_median": 55.0, "up_to_date_share": 0.5, "links_ok_share": 0.5,
              "scdl_datasets": 2, "scdl_valid_share": 0.5, "first_published": "2024-03-10",
              "last_published": "2024-07-20", "obliged_without_data": False, "convention_days_left": 92,
              "mqa_points": None},
    # L1 only (L2 private, L3 deleted); UNKNOWN is no declared frequency; no link checked at its URL but L2's.
    "69123": {"datasets": 1, "datasets_manual": 0, "datasets_harvested": 1, "licence_compliant_share": 1.0,
              "quality_mean": 60.0, "quality_median": 60.0, "up_to_date_share": None, "links_ok_share": None,
              "scdl_datasets": 0, "scdl_valid_share": None, "first_published": "2023-01-05",
              "last_published": "2023-01-05", "obliged_without_data": False, "convention_days_left": None,
              "mqa_points": None},
    # Obliged (3,933 inhabitants, agents unknown) and nothing published.
    "69116": {**NONE_VALUES, "obliged_without_data": True, "convention_days_left": None,
              "mqa_points": None},
    "69003": {"datasets": 1, "datasets_manual": 1, "datasets_harvested": 0, "licence_compliant_share": 0.0,
              "quality_mean": 45.0, "quality_median": 45.0, "up_to_date_share": None, "links_ok_share": None,
              "scdl_datasets": 0, "scdl_valid_share": None, "first_published": "2022-05-02",
              "last_published": "2022-05-02", "obliged_without_data": False, "convention_days_left": None,
              "mqa_points": None},
    # 40 agents: not obliged, so nothing published does not stand out.
    "69149": {**NONE_VALUES, "obliged_without_data": False, "convention_days_left": None,
              "mqa_points": None},
    "69096": {"datasets": 1, "datasets_manual": 1, "datasets_harvested": 0, "licence_compliant_share": 1.0,
              "quality_mean": 70.0, "quality_median": 70.0, "up_to_date_share": 1.0, "links_ok_share": None,
              "scdl_datasets": 0, "scdl_valid_share": None, "first_published": "2025-01-10",
              "last_published": "2025-01-10", "obliged_without_data": False, "convention_days_left": None,
              "mqa_points": None},
    # A pilot without organisation: obliged (6,124 inhabitants), nothing published.
    "69040": {**NONE_VALUES, "obliged_without_data": True, "convention_days_left": None,
              "mqa_points": None},
    # A small commune without organisation.
    "69033": {**NONE_VALUES, "obliged_without_data": False, "convention_days_left": None,
              "mqa_points": None},
}

PARTNER_STATUS = {"69029": "phase1", "69123": "phase1", "69116": "phase2", "69003": "candidate",
                  "69149": "none", "69096": "generalisation", "69040": "phase1", "69033": "none"}
OBLIGED = {"69029": True, "69123": True, "69116": True, "69003": False, "69149": False, "69096": True,
           "69040": True, "69033": False}

GROUP_VALUES = {
    # B1, B2, B3, L1: licences 3/4; scores 80, 45, 55, 60 (mean 60, median (55 + 60) / 2); 5 pilots obliged
    # without data (all but Bron and Lyon).
    "phase1": {"datasets": 4, "datasets_manual": 2, "datasets_harvested": 2, "licence_compliant_share": 0.75,
               "quality_mean": 60.0, "quality_median": 57.5, "up_to_date_share": 0.5, "links_ok_share": 0.5,
               "scdl_datasets": 2, "scdl_valid_share": 0.5, "first_published": "2023-01-05",
               "last_published": "2024-07-20", "obliged_without_data": 5, "convention_days_left": None,
              "mqa_points": None},
    "phase2": {**NONE_VALUES, "obliged_without_data": 5, "convention_days_left": None,
              "mqa_points": None},
    "generalisation": {**COMMUNE_VALUES["69096"], "obliged_without_data": 0},
    "non_partner": {**COMMUNE_VALUES["69003"], "obliged_without_data": 30},
    # The six: licences B1, B3, L1, G1 = 4/6; scores 80, 45, 55, 60, 45, 70: mean 355/6, median (55 + 60) / 2;
    # frequencies declared by B1, B2, G1, respected by B1 and G1.
    "all_communes": {"datasets": 6, "datasets_manual": 4, "datasets_harvested": 2,
                     "licence_compliant_share": 0.6667, "quality_mean": 59.17, "quality_median": 57.5,
                     "up_to_date_share": 0.6667, "links_ok_share": 0.5, "scdl_datasets": 2, "scdl_valid_share": 0.5,
                     "first_published": "2022-05-02", "last_published": "2025-01-10", "obliged_without_data": 40,
                     "convention_days_left": None,
              "mqa_points": None},
}
# No dataset of the portal is a High-Value Dataset (tests/quality/test_hvd_conditions.py counts some).
# In the indicators' order (bilan/data/indicators.yaml): the HVD ones come before the MQA's.
for _values in (NONE_VALUES, *COMMUNE_VALUES.values(), *GROUP_VALUES.values()):
    _mqa = _values.pop("mqa_points", None)
    _values.setdefault("hvd_datasets", 0)
    _values.setdefault("hvd_compliant_share", None)
    _values["mqa_points"] = _mqa

GROUP_SIZES = {"phase1": (7, 7), "phase2": (5, 5), "generalisation": (1, 1), "non_partner": (45, 30),
               "all_communes": (58, 43)}  # (communes, obliged)

RELEVANT_SCDL = ["scdl/catalogue", "scdl/deliberations", "scdl/subventions", "scdl/equipements", "scdl/budget",
                 "scdl/prenoms", "scdl/menus-collectifs", "scdl/plats-menus-collectifs", "etalab/schema-bal",
                 "etalab/schema-irve-statique", "arsante/schema-dae", "139bercy/format-commande-publique"]
