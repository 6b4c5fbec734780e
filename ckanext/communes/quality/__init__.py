"""Metadata quality that communes can act on: link checks (linkcheck.py), SCDL conformance (scdl.py),
DCAT-AP 3 shapes per dataset and the quality score (score.py, criteria in data/criteria.yaml). The
expensive parts run as background jobs on CKAN's queue; a page view never waits for them."""
