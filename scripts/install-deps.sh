#!/usr/bin/env bash
# Installs the Debian 12 packages ShopEasy needs to build, test and run its demo.
# Skips what is already present; needs root (or sudo) only when something is missing.
# Usage: scripts/install-deps.sh [--with-postgres] [--with-vision] [--with-browser]
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates curl openssl
  libgtest-dev libgmock-dev
  libsqlite3-dev sqlite3
  nlohmann-json3-dev libcpp-httplib-dev libssl-dev zlib1g-dev
  libmosquitto-dev mosquitto mosquitto-clients
  libpaho-mqttpp-dev libpaho-mqtt-dev
  libsystemd-dev
  libargon2-dev
  systemd dpkg-dev file lintian shellcheck ccache mold clang
  postgresql libpq-dev haproxy
  python3
  libopencv-dev libopencv-contrib-dev libzxing-dev zbar-tools zint
)
for arg in "$@"; do
  case "$arg" in
    --with-postgres) ;;  # PostgreSQL is now always installed; kept for old scripts.
    --with-vision) ;;  # The vision packages are now always installed; kept for old scripts.
    --with-browser)
      packages+=(chromium)
      # Node.js may come from elsewhere (e.g. NodeSource, whose nodejs conflicts with
      # Debian's npm): add Debian's packages only for a command that is missing.
      command -v node >/dev/null 2>&1 || packages+=(nodejs)
      command -v npm >/dev/null 2>&1 || packages+=(npm)
      ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The mosquitto package may start a system broker; the project runs its own brokers.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
# Likewise HAProxy: the cluster test starts its own balancer on a free port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet haproxy 2>/dev/null; then
  $SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true
fi
echo "install-deps: done"
