#!/usr/bin/env bash
# Install everything `make test` and `make demo` need on a fresh Debian machine:
# Debian packages with apt, Python packages into ./.venv. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/../.."

APT_PACKAGES=(
  keepalived ipvsadm nftables iproute2 tcpdump iputils-ping arping curl
  debootstrap systemd-container qemu-system-x86 qemu-utils e2fsprogs
  openssh-client rsync psmisc procps python3-venv openssl
  prometheus  # promtool: tests/unit/test_alert_rules.py checks the shipped alert rules
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo ">> apt: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "bootstrap: apt needs root" >&2; exit 1; fi
  # Packages such as keepalived must not start a system-wide daemon on this machine:
  # a policy-rc.d (only if none exists) forbids service starts during the install.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
stamp=.venv/.bootstrap-stamp
want="$(cat tests/requirements.txt runtime/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo ">> venv: installing Python packages into .venv"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt -e ./runtime \
    2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import vipkeeper, ansible, pyroute2, molecule" 
  echo "$want" >"$stamp"
fi
