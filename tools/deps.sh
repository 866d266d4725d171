#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, when missing.
# Runs apt-get only as root; otherwise says what is missing and fails.
set -euo pipefail
need=(libsqlite3-dev libcmocka-dev sqlite3 pkg-config bc)
[ "${SYNCSIM_DEPS_EXTRA:-}" ] && need+=(${SYNCSIM_DEPS_EXTRA})
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v gcc >/dev/null || missing+=(gcc)
command -v clang >/dev/null || missing+=(clang)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
