#!/usr/bin/env bash
# The whole test suite: Rust unit and end-to-end tests (the real gateway binary and
# the simulator over loopback), then the Python suite with the official `openai` SDK
# in a local virtualenv (.venv, created on first run).
#
# The multi-instance tests need PostgreSQL (tests named `postgres`) and Redis (tests
# named `redis`). Where a server is not reachable they are skipped, saying so and how
# to start it; with MODELGATE_REQUIRE_SERVICES=1 (CI) an unreachable server fails the
# run instead, so CI never skips them silently.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${MODELGATE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${MODELGATE_TEST_REDIS:-redis://127.0.0.1:6379}"

# host and port of a URL like scheme://[user@]host[:port][/path]
host_port() {
  local rest="${1#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  local host="${rest%%:*}" port="${rest##*:}"
  [[ "$port" == "$rest" ]] && port="$2"
  echo "$host $port"
}

reachable() {
  timeout 3 bash -c "</dev/tcp/$1/$2" 2>/dev/null
}

skips=()
skipped=()
check_service() { # name, url, default port, test-name filter, how to start it
  local hp
  read -r -a hp <<<"$(host_port "$2" "$3")"
  if reachable "${hp[0]}" "${hp[1]}"; then
    return
  fi
  if [[ "${MODELGATE_REQUIRE_SERVICES:-}" == 1 ]]; then
    echo "error: $1 is not reachable at ${hp[0]}:${hp[1]} and MODELGATE_REQUIRE_SERVICES=1: $5" >&2
    exit 1
  fi
  skips+=(--skip "$4")
  skipped+=("$1 tests (names containing '$4'): $1 is not reachable at ${hp[0]}:${hp[1]}. $5")
}
check_service PostgreSQL "$pg_url" 5432 postgres \
  "Start one with trust auth for user postgres (Debian: apt-get install -y postgresql; pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start), or point MODELGATE_TEST_POSTGRES at one."
check_service Redis "$redis_url" 6379 redis \
  "Start one (Debian: apt-get install -y redis-server; redis-server --daemonize yes), or point MODELGATE_TEST_REDIS at one."
for s in "${skipped[@]}"; do echo "SKIPPING $s"; done

cargo test --workspace --lib --bins --tests -- "${skips[@]}"
# The criterion benches, run once each in test mode (`--benches` alone would also
# rerun every library's unit tests, without the skips).
cargo test -p modelgate-providers --bench stream_translation

if [[ ! -x .venv/bin/python ]]; then
  echo "Creating the Python virtualenv for the SDK tests in .venv"
  python3 -m venv .venv
fi
echo "Installing the Python SDK test requirements into .venv (openai, pytest)"
.venv/bin/pip install --quiet --disable-pip-version-check -r crates/modelgate/tests/sdk/requirements.txt
MODELGATE_BIN="$PWD/target/debug/modelgate" .venv/bin/python -m pytest -q crates/modelgate/tests/sdk

for s in "${skipped[@]}"; do echo "SKIPPED $s"; done
