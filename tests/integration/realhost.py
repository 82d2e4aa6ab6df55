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


def command(cli, home, **extra_env):
    """``run(*words, expect=0)``: the installed command on one $ZSTACK_HOME; its
    inventory (or reply) on success, its stderr when a failure is expected.
    ``extra_env`` goes to the command's environment (and so to the host agents it starts)."""
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
    return run
