"""Accessibility of the portal's pages (RGAA, i.e. WCAG 2.1 AA, as French public bodies must meet): the statement
the law requires (/accessibilite), built from the automated audit's results that the browser tests write
(data/audit.json), the footer's link to it, and the pager links named for screen readers."""
