"""Template helpers of the accessibility room: the footer's status, the pager's named arrows."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
import dominate.tags as tags
from dominate.util import container

from ckanext.communes.accessibility import audit


def communes_accessibility_status() -> str:
    """« Accessibilité : partiellement conforme », the words the law wants on every page, linking the statement."""
    return tk._("Accessibility: {conformity}").format(conformity=audit.latest().conformity_label)


def communes_pager_symbols() -> dict[str, Any]:
    """The previous and next links of CKAN's pager are bare chevron icons: links without a name to a screen
    reader (WCAG 2.4.4, axe's link-name). Passed to ``page.pager(...)``, they keep the icon and carry a name.
    dominate elements, as CKAN's own symbols are: the pager builds its links with dominate, which escapes a
    string (even Markup) into visible text."""

    def symbol(icon: str, name: str) -> Any:
        return container(tags.i(cls=f"fa-solid {icon}", aria_hidden="true"), tags.span(name, cls="visually-hidden"))

    return {"symbol_previous": symbol("fa-chevron-left", tk._("Previous page")),
            "symbol_next": symbol("fa-chevron-right", tk._("Next page"))}


def get_helpers() -> dict[str, Any]:
    return {"communes_accessibility_status": communes_accessibility_status,
            "communes_pager_symbols": communes_pager_symbols}
