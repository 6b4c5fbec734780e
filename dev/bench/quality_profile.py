"""Where a drain batch's time goes (issue #20): cProfile of the quality checks of harvested datasets.

    python dev/bench/quality_profile.py --ckan-ini test.ini [--datasets 100] [--hosts 100] [--out drain.prof]

A DCAT catalogue of ``--datasets`` datasets (quality_backlog.py's: 3 links each, on ``--hosts`` loopback
addresses) is harvested in this process with no worker listening; then the drain (background.drain) runs
here, in batches of ``ckanext.communes.quality.batch_size``. Prints the CPU milliseconds per dataset of
each phase of a batch (CPU time of the process, link-check threads included, measured around the phase),
or with ``--cprofile`` the heaviest functions under cProfile (which inflates pure-Python code such as
pyshacl several times over) and writes the profile for ``python -m pstats``.
WIPES the database it is pointed at: refused unless its name ends in ``_test``.
"""

from __future__ import annotations

import cProfile
import os
import pathlib
import pstats
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harvest import CatalogueServer  # noqa: E402
from portal import argument_parser, fresh_portal, make_source, open_app  # noqa: E402
from quality_backlog import QUEUES, LinkServer, loopback_links  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--out", default="drain.prof")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args(argv)

    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk
    from ckan.lib import jobs

    from ckanext.communes.harvesters import jobs as harvest_jobs
    from ckanext.communes.quality import background

    catalogue, links = CatalogueServer(), LinkServer()
    with flask_app.test_request_context():
        tk.config["ckanext.communes.fetch.allow_private_addresses"] = True
        url = catalogue.publish("main", args.datasets)
        loopback_links(catalogue, links.port, args.hosts)
        user, bron = fresh_portal()
        source = make_source(user, bron["id"], url, "communes_dcat")
        harvest_jobs.run_source(source)
        for queue in QUEUES:  # nobody listens: the drain runs here
            jobs.get_queue(queue).empty()
        waiting = background.waiting_count()
        phases = {} if args.cprofile else timed_phases()
        profile = cProfile.Profile() if args.cprofile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        checked, failed, _ = background.drain()
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{checked} of {waiting} waiting datasets checked ({len(failed)} failed) in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU: {checked / max(cpu, 0.01):.1f} datasets per CPU-second, "
          f"{checked / wall:.1f} per second (batch size {background.batch_size()}, load average "
          f"{os.getloadavg()[0]:.1f})")
    if profile is not None:
        profile.dump_stats(args.out)
        pstats.Stats(args.out).sort_stats("cumulative").print_stats(args.top)
        return 0
    print(f"  {'phase':<40} {'calls':>6} {'ms CPU per dataset':>19} {'ms wall per dataset':>20}")
    for name, (calls, seconds, elapsed) in sorted(phases.items(), key=lambda item: -item[1][1]):
        print(f"  {name:<40} {calls:>6} {1000 * seconds / max(checked, 1):19.1f} "
              f"{1000 * elapsed / max(checked, 1):20.1f}")
    print(f"  {'(all: the claim and the commits included)':<40} {'':>6} {1000 * cpu / max(checked, 1):19.1f} "
          f"{1000 * wall / max(checked, 1):20.1f}")
    return 0


# The phases of a batch whose CPU time is measured (module, function name); wrapped where they are called.
PHASES = (
    ("ckanext.communes.quality.background", "_shown"),
    ("ckanext.communes.quality.background", "_read"),
    ("ckanext.communes.quality.shacl", "_conforming_in_batch"),
    ("ckanext.communes.quality.linkcheck", "changed_links"),
    ("ckanext.communes.quality.background", "check_urls"),
    ("ckanext.communes.quality.shacl", "dataset_graph"),
    ("ckanext.communes.quality.shacl", "validate_graph"),
    ("ckanext.communes.quality.shacl", "validate_batch"),
    ("ckanext.communes.quality.shacl", "store_result"),
    ("ckanext.communes.quality.linkcheck", "store_outcomes"),
    ("ckanext.communes.quality.scdl", "enqueue_changed"),
    ("ckanext.communes.quality.background", "_reindex"),
    ("ckanext.communes.quality.background", "_claim"),
)


def timed_phases() -> dict[str, list[float]]:  # name -> [calls, CPU seconds, wall seconds]
    """Wrap each phase found (one version of the code has some, another others) to add up its time;
    a phase called inside another is counted in both."""
    import functools
    import importlib

    totals: dict[str, list[float]] = {}
    for module_name, name in PHASES:
        module = importlib.import_module(module_name)
        real = getattr(module, name, None)
        if real is None:
            continue
        total = totals.setdefault(f"{module_name.rsplit('.', 1)[1]}.{name}", [0, 0.0, 0.0])

        def wrapper(*args, _real=real, _total=total, **kwargs):
            started, elapsed = time.process_time(), time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                _total[0] += 1
                _total[1] += time.process_time() - started
                _total[2] += time.perf_counter() - elapsed

        setattr(module, name, functools.wraps(real)(wrapper))
    return totals


if __name__ == "__main__":
    sys.exit(main())
