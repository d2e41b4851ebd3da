#!/usr/bin/env bash
# install-missing.sh WHO PACKAGE… — installs the named Debian packages with apt when run as root,
# or says exactly what to install and fails. The test and benchmark dependency checks end here.
set -euo pipefail
who=$1
shift
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "freshcache $who: installing $* with apt-get…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
  exit 0
fi
echo "freshcache $who needs: $*" >&2
echo "Install them, e.g. on Debian/Ubuntu: sudo apt-get install -y $*" >&2
exit 1
