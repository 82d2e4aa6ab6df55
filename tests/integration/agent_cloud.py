"""A small cloud on the machine's libvirtd with its host agent on (SPEC §12), for the
agent's real-host tests and tests/perf/bench_agent.py.

Built through the installed zstack-cli: zone, cluster, local storage in a
directory QEMU can traverse, the real host (qemu:///system), SFTP backup
storage, a template whose boot sector powers the guest off at a key press
and an ISO whose boot code resets it at one (guest.py), an offering, a disk
offering, an L2 network on a zs-prefixed dummy interface and an L3 network
(with Flat DHCP if asked). Everything made is removed by ``close()``, even
after a failure: the host (which stops its agent and its DHCP server), the
domains by the uuids chosen here, leftover DHCP namespaces of this host, the
dummy interface, the product's bridge and the directory.
"""

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

from tests.integration import guest
from tests.integration.realhost import command, uid, virsh


class AgentCloud:
    def __init__(self, cli, net="10.253.0", grace=None, dhcp=False):
        self.cli, self.net, self.dhcp = cli, net, dhcp
        self.work = tempfile.mkdtemp(prefix="zs-it-", dir="/var/tmp")
        os.chmod(self.work, 0o755)          # QEMU (libvirt-qemu) must reach the disks
        self.home = os.path.join(self.work, "home")
        self.link = "zsit" + secrets.token_hex(3)
        self.ids = {k: uid() for k in ("zone", "cluster", "ps", "host", "bs", "image", "iso",
                                       "offering", "disk", "l2", "l3")}
        self.domains = []
        env = {"ZSTACK_HOST_AGENT": "on"}
        if grace is not None:
            from backend.agent.reachability import GRACE_ENV

            env[GRACE_ENV] = str(grace)
        self.zs = command(cli, self.home, **env)
        self._db = None

    # ------------------------------------------------------------ making
    def build(self):
        made = subprocess.run(["ip", "link", "add", self.link, "type", "dummy"],
                              capture_output=True)
        if made.returncode != 0:            # a kernel without the dummy driver
            subprocess.run(["ip", "link", "add", self.link, "type", "veth", "peer", "name",
                            self.link + "p"], check=True)
        zs, i, work = self.zs, self.ids, self.work
        zs("CreateZone", "name=ag-zone", f"resourceUuid={i['zone']}")
        zs("CreateCluster", "name=ag-cluster", f"zoneUuid={i['zone']}", "hypervisorType=KVM",
           f"resourceUuid={i['cluster']}")
        zs("AddLocalPrimaryStorage", "name=ag-ps", f"url={work}/ps", f"zoneUuid={i['zone']}",
           f"resourceUuid={i['ps']}")
        zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={i['ps']}",
           f"clusterUuid={i['cluster']}")
        zs("AddKVMHost", "name=ag-host", f"clusterUuid={i['cluster']}",
           "managementIp=127.0.0.1", "username=root", "password=password",
           f"resourceUuid={i['host']}")
        zs("AddSftpBackupStorage", "name=ag-bs", f"url={work}/bs", "hostname=127.0.0.1",
           "username=root", "password=password", f"resourceUuid={i['bs']}")
        zs("AttachBackupStorageToZone", f"backupStorageUuid={i['bs']}", f"zoneUuid={i['zone']}")
        template = os.path.join(work, "poweroff.qcow2")
        guest.boot_disk(template, guest.POWEROFF)
        zs("AddImage", "name=ag-poweroff", "format=qcow2", f"url={template}",
           f"backupStorageUuids={i['bs']}", f"resourceUuid={i['image']}")
        iso = os.path.join(work, "reset.iso")
        guest.boot_iso(iso, guest.RESET)
        zs("AddImage", "name=ag-reset", "format=iso", "mediaType=ISO", f"url={iso}",
           f"backupStorageUuids={i['bs']}", f"resourceUuid={i['iso']}")
        zs("CreateInstanceOffering", "name=ag-small", "cpuNum=1", "memorySize=64M",
           f"resourceUuid={i['offering']}")
        zs("CreateDiskOffering", "name=ag-disk", "diskSize=16M", f"resourceUuid={i['disk']}")
        zs("CreateL2NoVlanNetwork", "name=ag-l2", f"zoneUuid={i['zone']}",
           f"physicalInterface={self.link}", f"resourceUuid={i['l2']}")
        zs("AttachL2NetworkToCluster", f"l2NetworkUuid={i['l2']}", f"clusterUuid={i['cluster']}")
        zs("CreateL3Network", "name=ag-l3", f"l2NetworkUuid={i['l2']}", f"resourceUuid={i['l3']}")
        zs("AddIpRange", f"l3NetworkUuid={i['l3']}", "name=ag-range",
           f"startIp={self.net}.10", f"endIp={self.net}.40", "netmask=255.255.255.0",
           f"gateway={self.net}.1")
        if self.dhcp:
            zs("AttachNetworkServiceToL3Network", f"l3NetworkUuid={i['l3']}",
               "networkServices={'Flat':['DHCP']}")
        return self

    def new_vm(self, from_iso=False):
        """A running VM: from the power-off template, or from the reset ISO (with a
        16 MiB root disk, CdRom first)."""
        vm = uid()
        self.domains.append(vm)
        i = self.ids
        extra = ([f"imageUuid={i['iso']}", f"rootDiskOfferingUuid={i['disk']}"] if from_iso
                 else [f"imageUuid={i['image']}"])
        created = self.zs("CreateVmInstance", f"name=ag-{vm[:6]}",
                          f"instanceOfferingUuid={i['offering']}", f"l3NetworkUuids={i['l3']}",
                          f"resourceUuid={vm}", *extra)
        assert created["state"] == "Running", created
        return vm

    # ------------------------------------------------------------ looking
    def agent(self):
        """(supervisor pid, agent pid) of the host's agent, or (None, None)."""
        from backend.network.flat import supervisor

        directory = os.path.join(self.home, "hosts", self.ids["host"], "agent")
        return supervisor.running(directory) if os.path.isdir(directory) else (None, None)

    def agent_log(self):
        path = os.path.join(self.home, "hosts", self.ids["host"], "agent", "supervisor.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def db(self):
        """One read-only connection to the store, kept (WAL: it sees each new commit)."""
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.home}/zstack.db?mode=ro", uri=True,
                                       timeout=5, isolation_level=None)
        return self._db

    def db_state(self, vm):
        row = self.db().execute("SELECT state FROM VmInstanceVO WHERE uuid = ?",
                                (vm,)).fetchone()
        return row[0] if row else None

    def host_status(self):
        return self.db().execute("SELECT status FROM HostVO WHERE uuid = ?",
                                 (self.ids["host"],)).fetchone()[0]

    def wait_db(self, vm, state, since=None, timeout=2.0, pause=0.002):
        """Seconds from ``since`` (default: now) until the store says ``state``."""
        since = time.monotonic() if since is None else since
        while True:
            now = time.monotonic()
            if self.db_state(vm) == state:
                return now - since
            if now - since > timeout:
                raise AssertionError(f"VM {vm} is {self.db_state(vm)}, not {state}, "
                                     f"{timeout} s after the change")
            time.sleep(pause)

    def cli_state(self, vm):
        return self.zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"]

    def shows(self, vm, state, since, limit=2.0):
        """QueryVmInstance (the command) shows ``state`` by ``limit`` s after ``since``:
        a query that started in time and answered ``state`` counts."""
        while True:
            asked = time.monotonic()
            got = self.cli_state(vm)
            if got == state:
                return asked - since
            if asked - since > limit:
                raise AssertionError(f"QueryVmInstance says {got}, not {state}, "
                                     f"{asked - since:.2f} s after the change")
            time.sleep(0.05)

    def dhcp_entries(self, mac):
        """The DHCP host files of this host's server naming ``mac`` (<mac without
        colons>.<hash>, see backend/network/flat/dnsmasq.py)."""
        hosts = os.path.join(self.home, "hosts", self.ids["host"], "flat", self.ids["l3"],
                             "hosts")
        prefix = mac.replace(":", "").lower() + "."
        try:
            return [n for n in os.listdir(hosts) if n.lower().startswith(prefix)]
        except FileNotFoundError:
            return []

    # ------------------------------------------------------------ removing
    def close(self):
        if self._db is not None:
            self._db.close()
        env = dict(os.environ, ZSTACK_HOME=self.home)
        subprocess.run([self.cli, "DeleteHost", f"uuid={self.ids['host']}",
                        "deleteMode=Enforcing"], env=env, capture_output=True, timeout=120)
        for name in self.domains:
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout.split("\n")
        for line in namespaces:                 # left by a DeleteHost that failed
            words = line.split()
            if words and words[0].startswith(f"zsd-{self.ids['host'][:8]}-"):
                pids = subprocess.run(["ip", "netns", "pids", words[0]], capture_output=True,
                                      text=True).stdout.split()
                for pid in pids:                # ours: they run in our namespace
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                subprocess.run(["ip", "netns", "del", words[0]], capture_output=True)
        for dev in (f"br_{self.link}", self.link):      # a veth's peer goes with it
            subprocess.run(["ip", "link", "del", dev], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
