#!/usr/bin/env bash
# Static checks, run by scripts/test.sh before the tests (so CI runs them too); exits 1 on any finding.
#   ruff           lint of src/, tests/, bench/, scripts/ (rules in pyproject.toml)
#   mypy           types of src/
#   bandit         security lint of src/ (scripts/bandit.yaml says which rules are skipped and why)
#   import-linter  the layer contracts in .importlinter
#   pip-audit      known vulnerabilities in the locked dependencies, requirements.lock (needs the vulnerability service;
#                  where it cannot be reached the summary says so loudly, and the run does not fail on it)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
failed=0
not_run=()

echo "==> ruff"
if ! "$BIN/ruff" check src tests bench scripts; then
  failed=1
fi

echo "==> mypy"
if ! "$BIN/mypy" src; then
  failed=1
fi

echo "==> bandit"
if ! "$BIN/bandit" -q -r src -c scripts/bandit.yaml; then
  failed=1
fi

echo "==> import-linter"
if ! PYTHONPATH=src "$BIN/lint-imports" --no-cache; then
  failed=1
fi

echo "==> pip-audit"
report=$(mktemp)
"$BIN/pip-audit" -r requirements.lock --no-deps --disable-pip --progress-spinner off -f json -o "$report" >/dev/null 2>&1
"$BIN/python" - "$report" <<'PY'
import json, sys

try:
    deps = json.load(open(sys.argv[1])).get("dependencies", [])
except (OSError, ValueError) as exc:
    print(f"pip-audit gave no report ({exc})")
    sys.exit(2)
vulnerable = [d for d in deps if d.get("vulns")]
audited = [d for d in deps if "skip_reason" not in d]
for d in vulnerable:
    for v in d["vulns"]:
        fixed = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
        print(f"{d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
print(f"{len(audited)} of {len(deps)} dependencies audited, {len(vulnerable)} with known vulnerabilities")
sys.exit(1 if vulnerable else (0 if audited else 2))
PY
case $? in
  0) ;;
  2) not_run+=("pip-audit (the vulnerability service could not be reached: no dependency was audited)") ;;
  *) failed=1 ;;
esac
rm -f "$report"

if [ ${#not_run[@]} -gt 0 ]; then
  printf '\033[1;31m!!! NOT RUN: %s\033[0m\n' "${not_run[@]}"
fi
[ $failed = 0 ] && echo "==> Static checks passed" || echo "==> Static checks FAILED"
exit $failed
