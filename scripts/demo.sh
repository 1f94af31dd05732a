#!/usr/bin/env bash
# Set up and start Entrepot with demo content on the embedded default (SQLite in ./entrepot-data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/entrepot demo "$@"
