"""The groups of communes the bilan compares (deliberation 2019-3364): the phase-1 pilots, the phase-2
communes, those that joined later (generalisation), the non-partners (no status, or candidates), and the
58 communes together. A commune's group follows its partner status (communes/programme.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ckanext.communes.communes import programme
from ckanext.communes.translation import N_, gettext

ALL_COMMUNES = "all_communes"


@dataclass(frozen=True)
class Group:
    key: str
    label: str  # English msgid
    statuses: tuple[str, ...]  # partner statuses of its communes; empty: every commune

    @property
    def name(self) -> str:
        return gettext(self.label)

    def includes(self, partner_status: str) -> bool:
        return not self.statuses or partner_status in self.statuses


GROUPS: tuple[Group, ...] = (
    Group("phase1", N_("Phase 1 (pilots)"), ("phase1",)),
    Group("phase2", N_("Phase 2"), ("phase2",)),
    Group("generalisation", N_("Joined later (generalisation)"), ("generalisation",)),
    Group("non_partner", N_("Non-partners (none or candidate)"), ("none", "candidate")),
    Group(ALL_COMMUNES, N_("All communes of the Métropole"), ()),
)
GROUP_KEYS: tuple[str, ...] = tuple(group.key for group in GROUPS)

# Every partner status belongs to exactly one phase group (all_communes aside): checked at import, so
# that a status added to programme.PARTNER_STATUSES cannot silently drop communes from the bilan.
_PHASE_GROUPS = [group for group in GROUPS if group.statuses]
for _status in programme.PARTNER_STATUSES:
    if sum(group.includes(_status) for group in _PHASE_GROUPS) != 1:
        raise ValueError(f"partner status {_status!r} must belong to exactly one group of the bilan")


def group_of(partner_status: str) -> str:
    """The phase group of a partner status (an unknown status counts as no status)."""
    status = partner_status if partner_status in programme.PARTNER_STATUSES else "none"
    return next(group.key for group in _PHASE_GROUPS if group.includes(status))


def get_group(key: str) -> Group | None:
    return next((group for group in GROUPS if group.key == key), None)
