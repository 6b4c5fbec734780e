"""The legal obligation to open data by default, at its boundaries (3,500 inhabitants, 50 agents)."""

from __future__ import annotations

import pytest

from ckanext.communes.communes.obligation import obligation


@pytest.mark.parametrize(("population", "agents", "status"), [
    (3500, 50, "not_obliged"),  # 3,500 is not "more than 3,500"
    (3500, None, "not_obliged"),
    (3501, 50, "obliged"),
    (3501, 49, "not_obliged"),
    (3501, 49.9, "not_obliged"),
    (3501, None, "probably_obliged"),
    (520774, 8000, "obliged"),
    (1186, 12, "not_obliged"),
    (None, 60, "not_obliged"),
    ("3501", "50", "obliged"),  # values as stored in organisation extras
    ("3501", "", "probably_obliged"),
    ("3501", "49,5", "not_obliged"),
])
def test_obligation_rule_at_its_boundaries(population, agents, status):
    assert obligation(population, agents).status == status


def test_each_status_says_why():
    reasons = {
        obligation(3501, 50).reason, obligation(3501, None).reason, obligation(3501, 49).reason,
        obligation(3500, 50).reason, obligation(None, None).reason,
    }
    assert len(reasons) == 5
    assert "unknown" in obligation(3501, None).reason
