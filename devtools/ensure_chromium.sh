#!/bin/sh
# Headless Chromium for the browser tests (tests/e2e/test_owner_page_browser.py): Debian's
# `chromium` package, installed when missing. Idempotent; `make test` runs it. As root (CI) it
# installs directly, otherwise through sudo. It fails loudly when it cannot install: the browser
# tests then fail too, they never skip.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "chromium is missing and this user cannot install it: apt-get install chromium (as root)" >&2
    exit 1
fi
echo "installing Debian's chromium for the browser tests" >&2
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends chromium
command -v chromium >/dev/null 2>&1
