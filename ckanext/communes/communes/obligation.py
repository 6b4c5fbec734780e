"""Legal obligation to open data by default (loi 2016-1321 "pour une République numérique").

Local authorities of more than 3,500 inhabitants (CGCT L1112-23) are obliged unless they employ fewer
than 50 agents in full-time equivalent (CRPA L312-1-1, D312-1-1-1). Always derived, never typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ckanext.communes.translation import N_, gettext

POPULATION_THRESHOLD = 3500  # obliged only *above* this population
AGENTS_THRESHOLD = 50  # obliged from this many agents (full-time equivalent)

ObligationStatus = Literal["obliged", "probably_obliged", "not_obliged"]
STATUSES: tuple[str, ...] = ("obliged", "probably_obliged", "not_obliged")


@dataclass(frozen=True)
class Obligation:
    status: ObligationStatus
    reason: str  # translated sentence saying why

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "label": status_label(self.status), "reason": self.reason}


STATUS_LABELS = {
    "obliged": N_("Obliged to open data by default"),
    "probably_obliged": N_("Probably obliged (agents unknown)"),
    "not_obliged": N_("Not obliged"),
}


def status_label(status: str) -> str:
    return gettext(STATUS_LABELS.get(status, status))


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except ValueError:
        return None


def obligation(population: int | None, agents_fte: float | None) -> Obligation:
    """population > 3,500 and agents >= 50 -> obliged; population > 3,500 and agents unknown ->
    probably obliged; otherwise not obliged. Accepts the strings stored in organisation extras too."""
    people = _number(population)
    agents = _number(agents_fte)
    if people is None:
        return Obligation("not_obliged", gettext(
            "Population unknown: the obligation cannot apply until the population is known."))
    if people <= POPULATION_THRESHOLD:
        return Obligation("not_obliged", gettext(
            "3,500 inhabitants or fewer: not obliged to open data by default."))
    if agents is None:
        return Obligation("probably_obliged", gettext(
            "More than 3,500 inhabitants, number of agents unknown: probably obliged "
            "(obliged unless fewer than 50 agents in full-time equivalent)."))
    if agents >= AGENTS_THRESHOLD:
        return Obligation("obliged", gettext(
            "More than 3,500 inhabitants and 50 agents or more in full-time equivalent: "
            "obliged to open data by default (CRPA L312-1-1)."))
    return Obligation("not_obliged", gettext(
        "Fewer than 50 agents in full-time equivalent: not obliged despite more than 3,500 inhabitants."))
