"""The portal's scheduled work: the link re-checks and the nightly quality recompute, run by the periodic runner
(``ckan communes harvest run-periodic``, which `make run` and docker/ start) at each of its rounds, on the
schedules of the ``ckanext.communes.schedule.*`` options, with their last run, outcome and next run shown to the
operators on /communes/taches-planifiees.

A room above quality/ and harvesters/: it calls quality's public entry points (tasks.py) and subscribes to the
harvest runner's ``periodic_round`` signal (plugin.py), so that neither room knows the other."""
