#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh machine, idempotent and quick when done:
#   1. Debian packages the local stack runs (ClickHouse server, Java, Maven, Prometheus);
#   2. the virtualenv in .venv with the project installed (editable) and its dev tools.
# Kafka and the schema registry come from Maven Central at `dossierhub stack up`, cached in ~/.m2.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf 'setup: %s\n' "$*"; }

have_clickhouse() { command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ]; }

packages=()
have_clickhouse || packages+=(clickhouse-server)
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
# promtool tests the alert rules; the prometheus server scrapes the hub in an integration test
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
# PostgreSQL server binaries: the link tests start a cluster of their own (initdb, pg_ctl)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
# headless Chromium opens the HTML annual report in a test (are the charts drawn?)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
for extra in ${DOSSIERHUB_APT_EXTRA:-}; do
  dpkg -s "$extra" >/dev/null 2>&1 || packages+=("$extra")
done
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { say "need root to apt-get install ${packages[*]}"; exit 1; }
    sudo=sudo
  fi
  say "installing Debian packages: ${packages[*]}"
  $sudo apt-get update -q >/dev/null
  # Debian's clickhouse-server would start a system-wide server; the stack runs its own.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -q --no-install-recommends \
    "${packages[@]}" >/dev/null
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "Python >= 3.11 is required ($python is $("$python" --version 2>&1))"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing the project and its dependencies into .venv (pip cache: ~/.cache/pip)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
say "ready"
