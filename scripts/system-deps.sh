#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real servers, not mocks),
# only where they are missing, so `make test` works on a fresh machine.
set -euo pipefail
needed=()
for pkg in $(grep -v '^#' "$(dirname "$0")/apt-packages.txt"); do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
if [ ${#needed[@]} -gt 0 ]; then
  echo "installing Debian packages: ${needed[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
