#!/usr/bin/env bash
# Install everything zstack-cli needs on a fresh Debian machine (run as root), idempotently:
# the Debian packages, then a virtualenv in .venv with the project and its test tools.
# A second run on a ready machine takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

# libvirt-dev and pkg-config build libvirt-python; qemu-utils gives qemu-img for volumes;
# libvirt-daemon with the QEMU driver and qemu-system-x86 run the integration tier's real VMs;
# rsync and openssh-client reach remote hosts (their agent, LocalStorageMigrateVolume);
# openssh-server gives the integration tier's stand-in remote host its sshd, which the
# tests run themselves on a loopback address (the system's own sshd is never used).
APT_PACKAGES=(python3 python3-venv python3-dev gcc pkg-config less man-db
              libvirt-clients libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu
              qemu-utils qemu-system-x86 dnsmasq-base busybox iproute2 wget
              rsync openssh-client openssh-server zsh fish)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  rm -rf .venv
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat setup.cfg setup.py | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log"
  .venv/bin/python -c 'import zstackcli, prompt_toolkit, sqlite_utils, tabulate, yaml, pytest'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Put the command on PATH when we may. A symbolic link there is ours (perhaps left dangling by a
# checkout since removed): point it at this checkout. A real file is someone else's: leave it.
link=/usr/local/bin/zstack-cli
if [ -w /usr/local/bin ] && { [ -L "$link" ] || [ ! -e "$link" ]; }; then
  ln -sfn "$PWD/.venv/bin/zstack-cli" "$link"
fi
