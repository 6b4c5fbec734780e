#!/usr/bin/env bash
# Initialise the development portal and serve it on http://127.0.0.1:5000.
# Safe to run twice. Ctrl-C stops CKAN and the services dev/stack.sh started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
INI="${1:-$ROOT/.dev/ckan.ini}"
CKAN="$VENV/bin/ckan -c $INI"
cd "$ROOT"

WORKER_PIDS=()
stop_workers() {
  # Only the processes started below, by pid: TERM lets a worker finish its message, KILL after 15 s.
  local pid
  for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=0
    for pid in "${WORKER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.5
  done
  for pid in "${WORKER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
stop() { stop_workers; bash "$ROOT/dev/stack.sh" down; }
trap stop EXIT
trap 'exit 130' INT TERM   # Ctrl-C: leave through the EXIT trap, which stops the services

LOG="$ROOT/.dev/run/init.log"; mkdir -p "$(dirname "$LOG")"; : > "$LOG"
quiet() { "$@" >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; echo "[run] failed: $*" >&2; exit 1; }; }

echo "[run] initialising the database (core and plugin migrations)"
quiet $CKAN db init
quiet $CKAN db upgrade   # plugin migrations (activity, harvest)

ADMIN_NAME="${CKAN_SYSADMIN_NAME:-admin}"
ADMIN_PASSWORD="${CKAN_SYSADMIN_PASSWORD:-admin-communes-2019}"
ADMIN_EMAIL="${CKAN_SYSADMIN_EMAIL:-admin@example.org}"
if ! $CKAN user show "$ADMIN_NAME" 2>/dev/null | grep -q "name=$ADMIN_NAME"; then
  echo "[run] creating sysadmin $ADMIN_NAME"
  quiet $CKAN user add "$ADMIN_NAME" email="$ADMIN_EMAIL" password="$ADMIN_PASSWORD"
fi
quiet $CKAN sysadmin add "$ADMIN_NAME"
# The DataStore loader (ckanext-xloader) acts with an API token of the sysadmin, written into the ini once
# (a new one only when the ini's is no longer valid, e.g. after the database was recreated).
if $CKAN communes datastore loader-token --help >/dev/null 2>&1; then
  quiet $CKAN communes datastore loader-token --user "$ADMIN_NAME"
fi

if $CKAN communes seed --help >/dev/null 2>&1; then
  echo "[run] seeding the Métropole and its communes"
  $CKAN communes seed 2>>"$LOG"
fi
# Configuration keys a source type renamed (issue #18), renamed in the saved sources; idempotent.
if $CKAN communes harvest migrate-config --help >/dev/null 2>&1; then
  $CKAN communes harvest migrate-config 2>>"$LOG" \
    || echo "[run] some harvest source configurations need an operator (listed above)" >&2
fi

# Harvest workers (gather, fetch) and the periodic `harvest_jobs_run`, as docker/ runs them.
if $CKAN communes harvest --help >/dev/null 2>&1; then
  echo "[run] starting the harvest workers (logs in .dev/run/harvest-*.log)"
  for cmd in gather-worker fetch-worker "run-periodic --every ${HARVEST_RUN_INTERVAL:-60}"; do
    log="$ROOT/.dev/run/harvest-${cmd%% *}.log"
    # shellcheck disable=SC2086  # $cmd holds the subcommand and its options
    $CKAN communes harvest $cmd >>"$log" 2>&1 &
    WORKER_PIDS+=("$!")
  done
else
  echo "[run] no \`ckan communes harvest\` command: harvest workers not started" >&2
fi
# CKAN's background job queue (RQ): the owner sync of a commune with many datasets runs there, the DataStore
# loads of ckanext-xloader (its queue is CKAN's `default`), and the quality checks of saved datasets
# (quality/background.py): a commune editor's saves on communes_quality, listened to first, the harvests' on
# communes_quality_bulk, last. A second worker on the bulk queue only: a harvest's backlog is checked by
# both (a drain that finds more than a batch waiting queues another), while the first keeps taking an
# editor's save first.
$CKAN jobs worker communes_quality default communes_quality_bulk >>"$ROOT/.dev/run/jobs-worker.log" 2>&1 &
WORKER_PIDS+=("$!")
$CKAN jobs worker communes_quality_bulk >>"$ROOT/.dev/run/jobs-worker-bulk.log" 2>&1 &
WORKER_PIDS+=("$!")

echo
echo "  CKAN with ckanext-communes: http://127.0.0.1:5000"
echo "  sysadmin: $ADMIN_NAME / $ADMIN_PASSWORD   (set CKAN_SYSADMIN_NAME / CKAN_SYSADMIN_PASSWORD to choose)"
echo "  Ctrl-C stops CKAN and the services started for it."
echo
$CKAN run -H 127.0.0.1 -p 5000
