"""Small helpers the real-libvirtd tests share: ids and virsh on the system daemon."""

import secrets
import subprocess

SYSTEM_URI = "qemu:///system"


def uid():
    return secrets.token_hex(16)


def virsh(*args, check=True):
    out = subprocess.run(["virsh", "-c", SYSTEM_URI, *args], capture_output=True, text=True,
                         timeout=60)
    if check:
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out


def domstate(name):
    out = virsh("domstate", name, check=False)
    return out.stdout.strip() if out.returncode == 0 else None
