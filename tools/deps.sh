#!/usr/bin/env bash
# Installs the Debian packages archlab needs, only those missing. Used by `make deps` and .ci/run. Open MPI is
# optional for the build (without it archlab runs as one process); installed so the multi-rank tests run.
set -u
PKGS="build-essential pkg-config libgsl-dev libopenblas-openmp-dev liblua5.4-dev libpng-dev libcairo2-dev
      libcjson-dev fortunes libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "archlab: installing missing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
else
    echo "archlab: cannot install$missing: not root and no password-less sudo." >&2
    echo "         run as root: apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "archlab: apt-get update failed (is Debian's archive reachable?)" >&2; exit 1; }
$SUDO apt-get install -y -qq --no-install-recommends $missing || {
    echo "archlab: apt-get install failed for:$missing" >&2; exit 1; }
