#!/usr/bin/env bash
# Ensures the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)
# that the test suites use are running. Idempotent: a running server is left
# alone. A server that is not installed gets a loud warning and exit 0 — the
# tests decide whether its absence is fatal (they fail under CI=true).
set -uo pipefail

WAIT_SECONDS=20
status=0

warn() {
  printf '\n%s\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
  printf '!!! services.sh: %s\n' "$@" >&2
  printf '%s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
}

# wait_for NAME CMD...: polls CMD until it succeeds or WAIT_SECONDS pass.
wait_for() {
  local name=$1
  shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      warn "$name did not become ready within ${WAIT_SECONDS}s"
      return 1
    fi
    sleep 0.5
  done
  echo "services.sh: $name is ready"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 ||
    [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    warn "PostgreSQL is NOT INSTALLED (no pg_ctlcluster / pg_isready / /etc/postgresql):" \
      "the PostgreSQL half of the store tests will be skipped, or fail under CI=true"
    return 0
  fi
  if pg_ready; then
    echo "services.sh: PostgreSQL already running at 127.0.0.1:5432"
    return 0
  fi
  echo "services.sh: starting PostgreSQL cluster $(ls /etc/postgresql)/main"
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ||
    warn "pg_ctlcluster failed to start PostgreSQL (see /var/log/postgresql/)"
  wait_for "PostgreSQL at 127.0.0.1:5432" pg_ready || status=1
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    warn "Redis is NOT INSTALLED (no redis-server / redis-cli):" \
      "Redis-backed cache and bus tests will be skipped, or fail under CI=true"
    return 0
  fi
  if redis_ready; then
    echo "services.sh: Redis already running at 127.0.0.1:6379"
    return 0
  fi
  echo "services.sh: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
    warn "redis-server failed to start (see /var/log/redis/ci.log)"
  wait_for "Redis at 127.0.0.1:6379" redis_ready || status=1
}

ensure_postgres
ensure_redis
exit "$status"
