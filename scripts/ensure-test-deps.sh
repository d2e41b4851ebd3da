#!/usr/bin/env bash
# Runs before `npm test`: the integration tests start real PostgreSQL servers of their own, so the
# server binaries must be on the machine. Installs them with apt when missing (as root), or says
# exactly what to install.
set -euo pipefail

have_postgres() { ls -d /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }

if have_postgres; then exit 0; fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "freshcache tests: installing PostgreSQL server binaries (apt-get install postgresql)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  have_postgres && exit 0
fi

echo "freshcache tests need the PostgreSQL server binaries (pg_ctl, initdb)." >&2
echo "Install them, e.g. on Debian/Ubuntu: sudo apt-get install -y postgresql" >&2
exit 1
