#!/usr/bin/env bash
# Initialise the development portal and serve it on http://127.0.0.1:5000.
# Safe to run twice. Ctrl-C stops CKAN and the services dev/stack.sh started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
INI="${1:-$ROOT/.dev/ckan.ini}"
CKAN="$VENV/bin/ckan -c $INI"
cd "$ROOT"

stop() { bash "$ROOT/dev/stack.sh" down; }
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

if $CKAN communes seed --help >/dev/null 2>&1; then
  echo "[run] seeding the Métropole and its communes"
  $CKAN communes seed 2>>"$LOG"
fi

echo
echo "  CKAN with ckanext-communes: http://127.0.0.1:5000"
echo "  sysadmin: $ADMIN_NAME / $ADMIN_PASSWORD   (set CKAN_SYSADMIN_NAME / CKAN_SYSADMIN_PASSWORD to choose)"
echo "  Ctrl-C stops CKAN and the services started for it."
echo
$CKAN run -H 127.0.0.1 -p 5000
