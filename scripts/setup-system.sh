#!/usr/bin/env bash
# System packages puhui needs beyond Python: a Java runtime for Spark (PySpark local mode).
# Installs only what is missing, only when it can (root with apt-get); otherwise says what to do.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup-system: please install: ${missing[*]} (needed for Spark)" >&2
fi
