#!/usr/bin/env bash
# Runs before `npm test`: the integration tests start real PostgreSQL and Redis servers of their
# own (and nginx, for `freshcache up`), and the browser tests a headless Chromium, so those binaries must be on the machine.
# Installs what is missing with apt (as root), or says exactly what to install. It never starts
# or touches a system service.
set -euo pipefail

missing=()
ls -d /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli forms the test Redis Cluster (redis-cli --cluster create).
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# `freshcache up` puts nginx in front of each region's nodes (the up and chaos tests go through it).
# Debian installs it in /usr/sbin, which a user's PATH may lack.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# The dashboard's browser tests drive Debian's Chromium with playwright-core.
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

bash "$(dirname "$0")/install-missing.sh" tests "${missing[@]}"
exec bash "$0"
