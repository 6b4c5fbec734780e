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
# Initialise the test database once (core and plugin migrations); CKAN's fixtures reset it between tests.
"$VENV/bin/ckan" -c test.ini db init >/dev/null
"$VENV/bin/ckan" -c test.ini db upgrade >/dev/null
mkdir -p test-artifacts
set +e
# --durations: the slowest tests in every run's log, where the 20-minute budget is watched.
"$VENV/bin/pytest" --ckan-ini=test.ini -p no:randomly --durations=25 "$@"
rc=$?
set -e
# pytest's 5 = no test collected: a suite that runs nothing must not pass.
exit $rc
