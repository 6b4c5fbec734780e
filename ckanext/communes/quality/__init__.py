"""Metadata quality that communes can act on. The checks: link checks (linkcheck.py, one URL in
link_probe.py, per-host politeness in host_limiter.py), SCDL conformance (scdl.py, the shipped schemas in
scdl_schemas.py), DCAT-AP 3 shapes per dataset (shacl.py), run in the background after a save
(background.py). What they found: the tables (models.py) and their readers (evidence.py), from which the
quality score is computed (score.py, criteria in data/criteria.yaml). The plugin hooks (hooks.py), template
helpers (helpers.py) and commands (cli.py) sit on top. Imports run one way: hooks → background → checks →
evidence → models; score → evidence. A page view never waits for a check."""
