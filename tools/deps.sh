#!/usr/bin/env bash
# deps.sh — installs what building and testing kv needs on Debian, and only
# what is missing: the compiler and CMake, pkg-config, xxHash (libxxhash-dev)
# python3 (the kvcli test parses --json output with it) and valgrind (the
# memcheck run of tests/run.sh), plus any
# packages named as arguments (tools/bench.sh adds kvbench's peers).
# Runs apt-get as root, or through sudo when it is not root.
set -euo pipefail

packages=(gcc cmake make pkg-config libxxhash-dev python3 valgrind "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
