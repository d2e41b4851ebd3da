#!/usr/bin/env bash
# Runs before `npm run bench` (bench/run.ts calls it): the benchmarks start real servers and load
# generators of their own, so these binaries must be on the machine. Installs what is missing
# with apt (as root), or says exactly what to install. It never starts or touches a system service
# (on a machine with systemd, installing varnish may start Debian's own on 6081: the bench never uses it).
set -euo pipefail

missing=()
# The edge HTTP benchmark: wrk is the load generator (C, not the bottleneck), Varnish a peer, and
# taskset (util-linux) pins the server and the client to a core each.
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v varnishd >/dev/null 2>&1 || missing+=(varnish)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
# The L2 and propagation benchmarks start a redis-server and a PostgreSQL of their own.
ls -d /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

bash "$(dirname "$0")/../scripts/install-missing.sh" bench "${missing[@]}"
exec bash "$0"
