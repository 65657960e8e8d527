#!/usr/bin/env bash
# Idempotently make headless Chromium and its WebDriver (chromedriver) available for the browser
# tests and `make screenshots`: Debian's `chromium` and `chromium-driver` packages, installed with
# apt-get only when `chromium` or `chromedriver` is missing from PATH. Says what it does.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromedriver)
echo "browser.sh: ${missing[*]} not found; installing Debian's chromium and chromium-driver with apt-get (a few minutes, once)" >&2

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
  echo "browser.sh: not root, using sudo" >&2
else
  echo "browser.sh: not root and no sudo: install the packages chromium and chromium-driver, then run again" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser.sh: no apt-get here: install Chromium and a matching chromedriver on PATH, then run again" >&2
  exit 1
fi

echo "browser.sh: apt-get update" >&2
"${sudo[@]}" apt-get update -qq
echo "browser.sh: apt-get install -y chromium chromium-driver" >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "browser.sh: installed $(chromium --version 2>/dev/null || echo chromium), $(chromedriver --version 2>/dev/null || echo chromedriver)" >&2
