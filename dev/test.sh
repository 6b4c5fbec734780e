#!/usr/bin/env bash
# The test suite against the real services started by dev/stack.sh (test database and
# the `ckan_test` Solr core). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"
# The DataStore database next to the CKAN database the environment names (dev/stack.sh creates
# datastore_test beside ckan_test): same server, the CKAN user writes, datastore_ro reads.
if [ -n "${CKAN_SQLALCHEMY_URL:-}" ] && [ -z "${CKAN_DATASTORE_WRITE_URL:-}" ]; then
  server="${CKAN_SQLALCHEMY_URL#*@}"; server="${server%/*}"
  export CKAN_DATASTORE_WRITE_URL="${CKAN_SQLALCHEMY_URL%/*}/datastore_test"
  export CKAN_DATASTORE_READ_URL="postgresql://datastore_ro:pass@$server/datastore_test"
fi
# The suite runs in CKAN_TEST_WORKERS processes (pytest-xdist). Three on a 2-core machine: a test mostly waits
# (PostgreSQL, Solr, the test servers, the browser) and the other processes fill those waits (2,195 tests: one
# process 24 min, two 15 min 53 s, three 13 min 03 s). Worker gwK has its own database, DataStore and Solr core,
# created by dev/stack.sh (ckanext/communes/tests/worker_services.py). 1 = one process, on ckan_test.
WORKERS="${CKAN_TEST_WORKERS:-3}"
# Initialise each test database once (core and plugin migrations), side by side; CKAN's fixtures reset them
# between tests. ckan_test too: `pytest --ckan-ini=test.ini` run by hand uses it.
init_database() { "$VENV/bin/ckan" -c test.ini db init >/dev/null && "$VENV/bin/ckan" -c test.ini db upgrade >/dev/null; }
pids=()
init_database & pids+=($!)
for ((worker = 0; worker < WORKERS && WORKERS > 1; worker++)); do
  (eval "$("$VENV/bin/python" -m ckanext.communes.tests.worker_services test.ini "gw$worker")" && init_database) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || { echo "a test database could not be initialised" >&2; exit 1; }; done
mkdir -p test-artifacts
parallel=()
# loadfile: a module's tests stay in one worker (its module-scoped portal is built once).
[ "$WORKERS" -gt 1 ] && parallel=(-n "$WORKERS" --dist loadfile)
set +e
# --durations: the slowest tests in every run's log, where the 20-minute budget is watched.
"$VENV/bin/pytest" --ckan-ini=test.ini -p no:randomly --durations=25 "${parallel[@]}" "$@"
rc=$?
set -e
# pytest's 5 = no test collected: a suite that runs nothing must not pass.
exit $rc
