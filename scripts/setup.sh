#!/usr/bin/env bash
# Set up Entrepot on Debian: system packages (when run as root), a virtualenv in .venv, the package.
#   scripts/setup.sh          what the service needs
#   scripts/setup.sh --test   also what the tests need (PostgreSQL, Redis, Chromium, test libraries)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# System packages the service uses at run time (OCR, fonts, media); tests add the backends and a browser.
RUNTIME_PKGS="python3 python3-venv python3-dev build-essential libmagic1 tesseract-ocr tesseract-ocr-eng
  tesseract-ocr-kor tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-jpn tesseract-ocr-osd ocrmypdf
  ghostscript unpaper pngquant fonts-noto-cjk fonts-nanum ffmpeg postgresql-client"
TEST_PKGS="postgresql redis-server chromium"

missing_pkgs() {
  local out=""
  for p in $*; do dpkg -s "$p" >/dev/null 2>&1 || out="$out $p"; done
  echo "$out"
}

if command -v apt-get >/dev/null 2>&1; then
  wanted="$RUNTIME_PKGS"
  [ $with_tests = 1 ] && wanted="$wanted $TEST_PKGS"
  need=$(missing_pkgs $wanted)
  if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
      say "Installing system packages:$need"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    else
      say "Not root: please install these Debian packages yourself:$need"
    fi
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "Creating the virtualenv in .venv"
  "$PY" -m venv .venv
fi
say "Installing the Python package"
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
if [ $with_tests = 1 ]; then
  .venv/bin/python -m pip install -q -c requirements.lock -e '.[test]' 2>&1 | grep -v "is ignored" || true
else
  .venv/bin/python -m pip install -q -c requirements.lock -e . 2>&1 | grep -v "is ignored" || true
fi
.venv/bin/entrepot --version >/dev/null
