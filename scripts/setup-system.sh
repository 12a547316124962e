#!/usr/bin/env bash
# System packages puhui needs beyond Python: a Java runtime for Spark (PySpark local mode), and
# Debian's Chromium with CJK fonts for the workbench's browser tests (Playwright drives
# /usr/bin/chromium; its own browser download is not used because bank networks are offline).
# Installs only what is missing, only when it can (root with apt-get); otherwise says what to do.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  missing+=(fonts-noto-cjk)
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup-system: please install: ${missing[*]} (Java for Spark; chromium and" \
    "fonts-noto-cjk for the browser tests)" >&2
fi
