"""A "remote" KVM host on this machine, reached only over ssh (qemu+ssh://).

Tests of a remote host need one whose storage the cloud can not see locally:
anything it knows about the host's files must travel over ssh, as it would with
a second machine. ``RemoteHost`` builds that on one machine. Like the
``second_host`` fixture of test_volume_migration_real.py, it starts a private
libvirtd (and its virtlogd) in a mount namespace of its own, where libvirt's
run, state, cache, log and config directories and the primary storage
directory are bind mounts of directories under a temporary base. Unlike
that fixture, it also starts a private sshd in the SAME namespace: an ssh
session therefore sees what that libvirtd sees (the same /run/libvirt socket
for virt-ssh-helper, the same storage behind the primary storage's path), and
the storage path on this machine stays a different, untouched directory.
Root's home and /run/netns are private there too, so what the product leaves
on a remote host (its agent, its DHCP servers' state and namespace names)
lands in the base directory, not on this machine.

Nothing touches the machine's own ssh setup: sshd listens on a free port of a
loopback address other than 127.0.0.1 (never port 22) with its own host key
and authorized_keys, and every client call goes through a wrapper script with
its own ssh config, key and known_hosts, so root's ~/.ssh and /etc/ssh are
never read for keys nor written.

Everything is undone on exit, even after errors: the private daemon's domains,
then sshd, libvirtd and virtlogd by their pids, then anything still left in
the namespace, then the base directory.
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

CAPABILITIES = "/var/cache/libvirt/qemu/capabilities"
SSHD = "/usr/sbin/sshd"
WAIT = 30


class RemoteHostError(Exception):
    pass


def _free_port(address):
    # Racy in principle, but only sshd binds it right after, on a private address.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _start_time(pid):
    """The process's start time (field 22 of /proc/PID/stat), or None if it is gone
    or a zombie: with the pid, it names one process even if the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def alive(pid, start_time):
    return start_time is not None and _start_time(pid) == start_time


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _stop(pid, start_time, timeout=10):
    """SIGTERM, then SIGKILL after ``timeout``: only the very process recorded."""
    if not alive(pid, start_time):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for sig in (signal.SIGKILL, None):
        deadline = time.monotonic() + timeout
        while alive(pid, start_time):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            return
        if sig is not None and alive(pid, start_time):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError as e:
        return f"({path}: {e})"


class RemoteHost:
    """``with RemoteHost(ps_dir) as host:`` a libvirt host at ``host.uri``
    (qemu+ssh://), its storage at ``ps_dir`` there and at ``host.ps_real`` here."""

    def __init__(self, ps_dir, address="127.0.0.3", password=None):
        self.ps_dir = ps_dir
        self.address = address
        # With a password, root may also log in with it there (and with keys put in
        # its ~/.ssh/authorized_keys): what AddKVMHost username/password needs.
        self.password = password
        self.port = None
        self.base = None
        self.ps_real = None
        self.uri = None
        self._daemon = None
        self._log = None
        self._ns_fd = None
        self._pids = {}

    # -- paths --------------------------------------------------------------

    def _p(self, *parts):
        return os.path.join(self.base, *parts)

    def _shadow(self):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

            hashed = crypt.crypt(self.password, crypt.mksalt(crypt.METHOD_SHA512))
        with open("/etc/shadow") as f:
            lines = f.read().splitlines()
        path = self._p("shadow")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            for line in lines:
                fields = line.split(":")
                if fields[0] == "root":
                    fields[1] = hashed
                f.write(":".join(fields) + "\n")
        return path

    @property
    def _wrapper(self):
        return self._p("ssh", "ssh")

    @property
    def _local_uri(self):
        # The same private daemon through its socket, which this machine sees
        # under base/run: cleanup must not depend on sshd still working.
        return f"qemu:///system?socket={self._p('run', 'libvirt-sock')}"

    # -- public helpers -----------------------------------------------------

    def ssh(self, *command, check=False, timeout=60):
        """Run ``command`` on the remote host (a shell there parses it, hence the quoting)."""
        out = subprocess.run([self._wrapper, "-p", str(self.port), f"root@{self.address}",
                              "--", shlex.join(command)],
                             capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            raise RemoteHostError(f"ssh {command} failed ({out.returncode}): "
                                  f"{out.stdout}{out.stderr}")
        return out

    def virsh(self, *args, check=True, uri=None, timeout=60):
        out = subprocess.run(["virsh", "-c", uri or self.uri, *args], capture_output=True,
                             text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            raise RemoteHostError(f"virsh {args} failed ({out.returncode}): "
                                  f"{out.stdout}{out.stderr}")
        return out

    def pids(self):
        """{name: (pid, start time)} of the daemons started, as far as known now."""
        self._record_pids()
        return dict(self._pids)

    def cut(self):
        """Out of reach: its sshd stops, with every session it serves (a shared
        ssh connection of the product's too); what runs there goes on."""
        self._hold_namespace()
        for pid, start in self._namespace_pids().items():
            if _comm(pid) == "sshd":
                _stop(pid, start, timeout=5)
        self._pids.pop("sshd", None)

    def restore(self):
        """Reachable again: sshd starts there anew."""
        subprocess.run(["nsenter", "-t", str(self._daemon.pid), "-m", "--", SSHD,
                        "-f", self._p("ssh", "sshd_config"), "-E", self._p("sshd.log")],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL)
        self._wait()

    # -- setup --------------------------------------------------------------

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self._cleanup()
        return False

    def _setup(self):
        self.base = tempfile.mkdtemp(prefix="zs-it-rh-", dir="/var/tmp")
        # QEMU runs as libvirt-qemu and must reach the storage under base.
        os.chmod(self.base, 0o755)
        for name in ("run", "lib", "cache", "log", "etc", "ps", "ssh", "home", "netns"):
            os.makedirs(self._p(name))
            os.chmod(self._p(name), 0o700 if name == "ssh" else 0o755)
        self.ps_real = self._p("ps")
        self.home_real = self._p("home")
        os.makedirs(self.ps_dir, exist_ok=True)
        # The machine's probe of its QEMU binaries, if it made one: the same binaries
        # here, and probing them again would cost a fresh daemon seconds.
        if os.path.isdir(CAPABILITIES):
            shutil.copytree(CAPABILITIES, self._p("cache", "qemu", "capabilities"))
        self.port = _free_port(self.address)
        self._write_ssh_files()
        self.uri = (f"qemu+ssh://root@{self.address}:{self.port}/system"
                    f"?keyfile={self._p('ssh', 'id')}&no_verify=1&command={self._wrapper}")

        mounts = [(self._p("run"), "/run/libvirt"), (self._p("lib"), "/var/lib/libvirt"),
                  (self._p("cache"), "/var/cache/libvirt"), (self._p("log"), "/var/log/libvirt"),
                  (self._p("etc"), "/etc/libvirt/qemu"), (self._p("ps"), self.ps_dir),
                  # root's home there: what the product leaves in a remote login's home
                  # (its agent, its DHCP servers' state) must not land in this machine's.
                  (self._p("home"), os.path.expanduser("~root")),
                  # and its named network namespaces (ip netns keeps their names there)
                  (self._p("netns"), "/run/netns")]
        if self.password:
            # root's password there only: a copy of the shadow file, bind-mounted.
            mounts.append((self._shadow(), "/etc/shadow"))
        q = shlex.quote
        os.makedirs("/run/netns", exist_ok=True)        # where ip netns keeps names
        script = " && ".join(
            [f"mount --bind {q(a)} {q(b)}" for a, b in mounts] +
            ["mkdir -p /run/sshd",
             "virtlogd -d -p /run/libvirt/virtlogd.pid",
             # sshd daemonizes but stays in this namespace, so its sessions see
             # the private /run/libvirt and storage, not this machine's.
             f"{SSHD} -f {q(self._p('ssh', 'sshd_config'))} -E {q(self._p('sshd.log'))}",
             # In the foreground: the Popen holds the namespace and is libvirtd.
             "exec libvirtd -p /run/libvirt/libvirtd.pid"])
        self._log = open(self._p("libvirtd.log"), "w")
        self._daemon = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._pids["unshare"] = (self._daemon.pid, _start_time(self._daemon.pid))
        self._wait()

    def _write_ssh_files(self):
        d = self._p("ssh")
        for key in ("id", "host_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zs-it-rh",
                            "-f", os.path.join(d, key)], check=True, capture_output=True,
                           stdin=subprocess.DEVNULL)
        shutil.copyfile(os.path.join(d, "id.pub"), os.path.join(d, "authorized_keys"))
        os.chmod(os.path.join(d, "authorized_keys"), 0o600)
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write("\n".join([
                # Port before ListenAddress: an address without a port takes it.
                f"Port {self.port}",
                f"ListenAddress {self.address}",
                f"HostKey {d}/host_ed25519",
                f"AuthorizedKeysFile {d}/authorized_keys"
                + (" .ssh/authorized_keys" if self.password else ""),
                "PermitRootLogin " + ("yes" if self.password else "prohibit-password"),
                "PasswordAuthentication " + ("yes" if self.password else "no"),
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                # The keys live under /var/tmp, whose modes sshd would refuse.
                "StrictModes no",
                f"PidFile {self._p('run-sshd.pid')}",
                "LogLevel ERROR",
                # No AcceptEnv: the client's environment stays on this side.
                # No tty, so no utmp/wtmp/lastlog records on this machine;
                # no ~/.ssh/rc, no forwarding: only the commands asked for.
                "PermitTTY no",
                "PermitUserRC no",
                "DisableForwarding yes",
                "PrintMotd no",
                "PrintLastLog no",
                "",
            ]))
        with open(os.path.join(d, "config"), "w") as f:
            f.write("\n".join([
                "Host *",
                f"    UserKnownHostsFile {d}/known_hosts",
                "    GlobalKnownHostsFile /dev/null",
                "    StrictHostKeyChecking no",
                "    LogLevel ERROR",
                f"    IdentityFile {d}/id",
                "    IdentitiesOnly yes",
                "    BatchMode yes",
                "    ConnectTimeout 5",
                # Never a master left behind holding the connection open.
                "    ControlMaster no",
                "    ControlPath none",
                "",
            ]))
        # -F: ssh reads no ~/.ssh/config or /etc/ssh/ssh_config and, unlike
        # without -F, does not create ~/.ssh.
        with open(self._wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec ssh -F {d}/config "$@"\n')
        os.chmod(self._wrapper, 0o755)

    def _record_pids(self):
        for name, path, comm in (("sshd", self._p("run-sshd.pid"), "sshd"),
                                 ("virtlogd", self._p("run", "virtlogd.pid"), "virtlogd")):
            if name in self._pids:
                continue
            pid = _read_pid(path)
            if pid and _comm(pid) == comm:
                self._pids[name] = (pid, _start_time(pid))

    def _wait(self):
        deadline = time.monotonic() + WAIT
        last = ""
        while True:
            if self._daemon.poll() is not None:
                self._fail(f"the namespace's libvirtd exited ({self._daemon.returncode})")
            self._record_pids()
            try:
                ssh = self.ssh("true", timeout=10)
                if ssh.returncode == 0:
                    virsh = self.virsh("list", check=False, timeout=20)
                    if virsh.returncode == 0:
                        self._hold_namespace()
                        return
                    last = f"virsh: {virsh.stdout}{virsh.stderr}"
                else:
                    last = f"ssh: {ssh.stdout}{ssh.stderr}"
            except subprocess.TimeoutExpired as e:
                last = f"timed out: {e.cmd}"
            if time.monotonic() > deadline:
                self._fail(f"the remote host did not come up in {WAIT} s; last: {last}")
            time.sleep(0.2)

    def _hold_namespace(self):
        """Keep an fd on the private namespace: it keeps the namespace, and so its
        id, alive until cleanup has swept it, whoever in it exits first."""
        if self._ns_fd is not None or self._daemon is None or self._daemon.poll() is not None:
            return
        pid = self._daemon.pid
        # Until sh has exec'd libvirtd, the child may not have unshared yet and
        # would name OUR namespace: the sweep would then signal everything here.
        if _comm(pid) != "libvirtd":
            return
        try:
            fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
        except OSError:
            return
        ns, own = os.fstat(fd), os.stat("/proc/self/ns/mnt")
        if (ns.st_dev, ns.st_ino) == (own.st_dev, own.st_ino) or _comm(pid) != "libvirtd":
            os.close(fd)
            return
        self._ns_fd = fd

    def _fail(self, why):
        self._log.flush()
        raise RemoteHostError(
            f"{why}\n--- libvirtd (and namespace) output:\n{_read(self._p('libvirtd.log'))}"
            f"\n--- sshd log:\n{_read(self._p('sshd.log'))}")

    # -- cleanup ------------------------------------------------------------

    def _cleanup(self):
        if self.base is None:
            return
        try:
            self._record_pids()
            self._hold_namespace()
            if self._daemon is not None and self._daemon.poll() is None:
                self._remove_domains()
            if "sshd" in self._pids:
                _stop(*self._pids["sshd"])
            if self._daemon is not None:
                self._daemon.terminate()
                try:
                    self._daemon.wait(30)
                except subprocess.TimeoutExpired:
                    self._daemon.kill()
                    self._daemon.wait()
            if "virtlogd" in self._pids:
                _stop(*self._pids["virtlogd"])
            self._sweep_namespace()
            self._stop_ssh_clients()
        finally:
            if self._ns_fd is not None:
                os.close(self._ns_fd)
                self._ns_fd = None
            if self._log is not None:
                self._log.close()
            shutil.rmtree(self.base, ignore_errors=True)

    def _remove_domains(self):
        try:
            names = self.virsh("list", "--all", "--name", check=False, uri=self._local_uri,
                               timeout=30).stdout.split()
            for name in names:
                self.virsh("destroy", name, check=False, uri=self._local_uri)
                self.virsh("undefine", name, "--nvram", check=False, uri=self._local_uri)
                self.virsh("undefine", name, check=False, uri=self._local_uri)
        except subprocess.TimeoutExpired:
            pass  # the daemon is stopped next anyway; the sweep gets its QEMUs

    def _sweep_namespace(self):
        """Whatever is still in the private namespace (an ssh session, a QEMU)
        descends from our unshare: nothing else ever enters it."""
        for pid, start in self._namespace_pids().items():
            _stop(pid, start, timeout=5)

    def _namespace_pids(self):
        """{pid: start time} of the processes in the private namespace."""
        if self._ns_fd is None:
            return {}
        ns, own = os.fstat(self._ns_fd), os.stat("/proc/self/ns/mnt")
        if (ns.st_dev, ns.st_ino) == (own.st_dev, own.st_ino):
            return {}  # never the namespace this process (and the machine) lives in
        left = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                st = os.stat(f"/proc/{entry}/ns/mnt")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (ns.st_dev, ns.st_ino):
                pid = int(entry)
                left[pid] = _start_time(pid)
        return left

    def _stop_ssh_clients(self):
        """ssh clients still running with our config (a ControlMaster would be
        one; none is ever started): only ours name this base directory."""
        marker = self._p("ssh", "config")
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv and os.path.basename(argv[0]) == b"ssh":
                pid = int(entry)
                _stop(pid, _start_time(pid), timeout=5)
