#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) answer on loopback,
# starting them (and, as root, installing them) where they do not. Prints which ones are up.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

start_pg() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$ver" ] || return 1
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # A cluster this script installed: let the tests connect over loopback without a password.
  if [ -w "$hba" ] && ! grep -q "entrepot-tests" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust # entrepot-tests\nhost all all ::1/128 trust # entrepot-tests' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect "$ver" main reload 2>/dev/null
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  pg_up && { psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select 1 from pg_database where datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'; }
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || return 1
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /var/lib/redis \
    --logfile /var/log/redis/entrepot-tests.log >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" >/dev/null
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
}

pg_up || start_pg
redis_up || start_redis
pg_up && echo "postgresql=up" || echo "postgresql=down"
redis_up && echo "redis=up" || echo "redis=down"
