#!/usr/bin/env bash
# Set up everything and run the whole test suite: once on SQLite, once on PostgreSQL.
# Where PostgreSQL, Redis or Chromium cannot be had, the rest still runs and the summary says loudly what
# did not; with CI=true a missing backend fails the run instead.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test || exit 1
status=$(bash scripts/services.sh)
echo "$status"
pg=$(echo "$status" | grep -q "postgresql=up" && echo 1 || echo 0)
redis=$(echo "$status" | grep -q "redis=up" && echo 1 || echo 0)
export ENTREPOT_TEST_REDIS=$redis
[ -x /usr/bin/chromium ] && export ENTREPOT_TEST_BROWSER=1 || export ENTREPOT_TEST_BROWSER=0
export OMP_THREAD_LIMIT=1

skipped=()
[ "$pg" = 1 ] || skipped+=("PostgreSQL (nothing answers on 127.0.0.1:5432)")
[ "$redis" = 1 ] || skipped+=("Redis (nothing answers on 127.0.0.1:6379)")
[ "$ENTREPOT_TEST_BROWSER" = 1 ] || skipped+=("browser tests (/usr/bin/chromium is missing)")
if [ "${CI:-}" = "true" ] && [ ${#skipped[@]} -gt 0 ]; then
  printf 'CI=true and these are missing: %s\n' "${skipped[*]}" >&2
  exit 1
fi

failed=0
echo "==> Static checks (ruff, mypy, bandit, import-linter, pip-audit)"
bash scripts/check.sh || failed=1
echo "==> Tests on SQLite"
ENTREPOT_TEST_DB=sqlite .venv/bin/python -m pytest "$@" || failed=1
if [ "$pg" = 1 ]; then
  echo "==> Tests on PostgreSQL"
  ENTREPOT_TEST_DB=postgresql .venv/bin/python -m pytest "$@" || failed=1
fi

if [ ${#skipped[@]} -gt 0 ]; then
  printf '\n\033[1;31m!!! NOT RUN: %s\033[0m\n' "${skipped[@]}"
fi
[ $failed = 0 ] && echo "==> All test runs passed" || echo "==> Some tests FAILED"
exit $failed
