"""Small helpers the real-libvirtd tests share: ids, virsh on the system daemon, a
domain's XML read back, and the installed command on one $ZSTACK_HOME."""

import secrets
import subprocess
import xml.etree.ElementTree as ET

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


def dumpxml(name, inactive=False):
    """The running domain's XML (or its definition) as an element tree."""
    return ET.fromstring(virsh("dumpxml", name, *(["--inactive"] if inactive else [])).stdout)


def drive(dom, device):
    """The first <disk device=...> of a domain."""
    found = [d for d in dom.findall("devices/disk") if d.get("device") == device]
    assert found, ET.tostring(dom, encoding="unicode")
    return found[0]


def boot(dom, device):
    """That drive's boot order, or None."""
    b = drive(dom, device).find("boot")
    return int(b.get("order")) if b is not None else None


def media(dom):
    """The file in the CD-ROM drive, or None."""
    source = drive(dom, "cdrom").find("source")
    return source.get("file") if source is not None else None


def command(cli, home, **extra_env):
    """``run(*words, expect=0)``: the installed command on one $ZSTACK_HOME; its
    inventory (or reply) on success, its stderr when a failure is expected.
    ``extra_env`` goes to the command's environment (and so to the host agents it starts);
    ``run.env`` is that environment."""
    import json
    import os

    env = dict(os.environ, ZSTACK_HOME=str(home), ZSTACK_LANG="en", **extra_env)

    def run(*words, expect=0):
        out = subprocess.run([cli, *words], env=env, capture_output=True, text=True,
                             timeout=120)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.returncode == expect, (words, out.stdout, out.stderr)
        if expect:
            return out.stderr
        reply = json.loads(out.stdout)
        assert reply["success"] is True
        return reply.get("inventory", reply)
    run.env = env
    return run
