#!/usr/bin/env bash
# Installs the Debian packages railtop needs to build, test and demo (and with `fuzz`, to fuzz).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS=(gcc make pkg-config libpq-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev
      libssl-dev nettle-dev libncurses-dev ncurses-term postgresql-15 postgresql-client-15 tmux python3 perl wrk
      procps iproute2 curl man-db groff-base systemd)
# `make fuzz` also needs clang with libFuzzer (scripts/deps.sh fuzz)
[ "${1:-}" = fuzz ] && PKGS+=(clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || apt-get update
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing Debian packages. Run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
