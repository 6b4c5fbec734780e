"""Licence aliases added by operators (issue #22, part B stores them).

The normaliser consults them before anything else, on every call (they are not behind its cache): an alias
an operator adds applies to the next value normalised.
"""

from __future__ import annotations

from collections.abc import Mapping


def operator_aliases() -> Mapping[str, str]:
    """text key (normalise.text_key of the alias) -> registry licence id, added by operators."""
    return {}
