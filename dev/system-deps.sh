#!/usr/bin/env bash
# System packages the local stack needs (Debian/Ubuntu): installs what is missing when run as root,
# otherwise prints the apt-get command to run. Called by `make run`, `make test` and .ci/run.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql-15)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
# Chromium drives the browser tests (Playwright, no browser download).
[ -x /usr/bin/chromium ] || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[system] apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "[system] missing: ${missing[*]}" >&2
  echo "[system] install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
