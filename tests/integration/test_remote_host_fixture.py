"""remotehost.py's RemoteHost: a "remote" libvirt host on this machine, reached
over ssh only, whose storage this machine sees at another path; and nothing of it
left afterwards (processes, base directory, root's ~/.ssh untouched).

The ``libvirtd`` session fixture runs first for the machine's libvirt setup
(the libvirt-qemu account, /var/log/libvirt, ...) the private daemon relies on.
"""

import os
import pwd
import shutil
import tempfile
import uuid

import pytest

from tests.integration.remotehost import RemoteHost, RemoteHostError, alive

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/sbin/sshd"),
                                 reason="sshd is not installed (bootstrap.sh installs it)")]


@pytest.fixture
def ps_dir():
    path = tempfile.mkdtemp(prefix="zs-it-rhps-", dir="/var/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def root_ssh_state():
    """What root's ~/.ssh holds (names, sizes, mtimes): it must not change."""
    path = os.path.join(pwd.getpwuid(0).pw_dir, ".ssh")
    if not os.path.isdir(path):
        return None
    return sorted((n, os.stat(os.path.join(path, n)).st_size,
                   os.stat(os.path.join(path, n)).st_mtime_ns) for n in os.listdir(path))


def assert_gone(host, pids):
    assert {name for name in ("unshare", "sshd", "virtlogd") if name in pids} == \
        {"unshare", "sshd", "virtlogd"}, pids
    left = {name: pid for name, (pid, start) in pids.items() if alive(pid, start)}
    assert not left, left
    assert not os.path.exists(host.base)


def test_remote_host_over_ssh(libvirtd, ps_dir):
    before = root_ssh_state()
    name = f"zs-it-rh-{uuid.uuid4().hex[:8]}"
    with RemoteHost(ps_dir) as host:
        assert host.uri.startswith(f"qemu+ssh://root@{host.address}:{host.port}/system?")
        assert host.port != 22 and host.ps_real == os.path.join(host.base, "ps")

        # The storage path over there is a different directory from the one here.
        out = host.ssh("sh", "-c", f"echo hi > {ps_dir}/x")
        assert out.returncode == 0, out
        with open(os.path.join(host.ps_real, "x")) as f:
            assert f.read() == "hi\n"
        assert not os.path.exists(os.path.join(ps_dir, "x"))
        assert host.ssh("cat", f"{ps_dir}/x").stdout == "hi\n"

        out = host.ssh("/usr/bin/python3", "--version")
        assert out.returncode == 0 and out.stdout.startswith("Python 3"), out

        # The ssh sessions reach the private daemon, not the machine's.
        pids = host.pids()
        out = host.ssh("cat", "/run/libvirt/libvirtd.pid", check=True)
        assert int(out.stdout) == pids["unshare"][0]

        assert "Id" in host.virsh("list", "--all").stdout
        assert "<capabilities>" in host.virsh("capabilities").stdout

        # A domain defined there lands in the remote host's config, and is
        # removed with it.
        xml = os.path.join(host.base, "dom.xml")
        with open(xml, "w") as f:
            f.write(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory>"
                    "<os><type arch='x86_64'>hvm</type></os></domain>")
        host.virsh("define", xml)
        assert os.path.exists(os.path.join(host.base, "etc", f"{name}.xml"))
        assert not os.path.exists(f"/etc/libvirt/qemu/{name}.xml")
        assert name in host.virsh("list", "--all", "--name").stdout.split()

        # A process left behind in the namespace (detached from its session)
        # goes too.
        out = host.ssh("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!")
        stray = int(out.stdout)
        with open(f"/proc/{stray}/stat") as f:
            pids["stray"] = (stray, f.read().rsplit(")", 1)[1].split()[19])
        assert alive(*pids["stray"])

    assert_gone(host, pids)
    assert not os.path.exists(os.path.join(ps_dir, "x"))
    assert root_ssh_state() == before


def test_remote_host_cleans_up_after_an_error(libvirtd, ps_dir):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with RemoteHost(ps_dir) as host:
            pids = host.pids()
            raise Boom
    assert_gone(host, pids)


def test_remote_host_reports_a_failed_start(libvirtd, ps_dir, monkeypatch):
    """sshd refuses its config: the error says why; virtlogd, already started, goes."""
    host = RemoteHost(ps_dir)
    real = host._write_ssh_files

    def broken():
        real()
        with open(os.path.join(host.base, "ssh", "sshd_config"), "a") as f:
            f.write("NoSuchOption yes\n")

    monkeypatch.setattr(host, "_write_ssh_files", broken)
    with pytest.raises(RemoteHostError) as e:
        with host:
            pass
    assert "NoSuchOption" in str(e.value), e.value
    assert "virtlogd" in host._pids
    left = {name: pid for name, (pid, start) in host._pids.items() if alive(pid, start)}
    assert not left, left
    assert not os.path.exists(host.base)
