"""A small cloud on the machine's REAL host, built through the installed zstack-cli
command: what the real-host tests (and tests/perf/bench_agent.py, through
agent_cloud.py) share.

``RealCloud(cli, ...)`` makes a directory in /var/tmp that QEMU (running as
libvirt-qemu) can traverse, with the store ($ZSTACK_HOME) in it; ``build()``
adds a zs-prefixed dummy interface (one end of a veth pair on a kernel without
the dummy driver) and runs the common command lines, with uuids chosen here
(``ids``): a zone, a KVM cluster, local primary storage (``ps``), the real host
at 127.0.0.1 (qemu:///system), SFTP backup storage, a qcow2 template (and an
ISO, if asked), an instance offering, a disk offering, an L2 network on the
dummy interface and an L3 network with a range (``net``.10 to .40), DNS and
Flat network services if asked. ``replies`` keeps each building command's
inventory. Options, for what the tests differ in:

- ``net``: the L3's first three octets; ``tag``: the prefix of the names;
- ``image``: ``"blank"`` (an empty 64 MiB qcow2) or ``"poweroff"`` (guest.py's
  boot sector that powers the guest off at a key press);
- ``iso``: None, ``"blank"`` (the least qemu takes for an ISO) or ``"reset"``
  (guest.py's El Torito image that resets the guest at a key press);
- ``flat``: Flat services for the L3, e.g. ``("DHCP", "Userdata")``; ``dns``:
  a DNS address for it;
- ``agent``: the host agent on or off; ``env``: more of the command's
  environment (and so of the host agents it starts);
- ``build(second_uri=...)``: a second host (``ids["host2"]``, 127.0.0.2) on
  that libvirt URI, added right after the first.

``close()`` (or leaving the ``with`` block) removes everything made, even after
a failure, and nothing else: the first host (DeleteHost Enforcing, which stops
its agent and its DHCP servers), the domains named by the uuids handed out by
``domain()`` (destroyed and undefined), what is left of this host's DHCP
namespaces (their processes, by pid) and veth, the dummy interface, the bridge
br_<interface> the product made on it, and the directory.
"""

import os
import secrets
import shutil
import signal
import subprocess
import tempfile

from tests.integration import guest
from tests.integration.realhost import command, domstate, uid, virsh

KEYS = ("zone", "cluster", "ps", "host", "host2", "bs", "image", "iso", "offering", "disk",
        "l2", "l3")


def blank_iso(path):
    """The smallest thing qemu takes for an ISO: CD001 at 0x8001, 128 KiB."""
    data = bytearray(128 * 1024)
    data[0x8001:0x8006] = b"CD001"
    with open(path, "wb") as f:
        f.write(bytes(data))


def _blank_disk(path):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "64M"], check=True)


IMAGES = {"blank": ("tiny.qcow2", _blank_disk),
          "poweroff": ("poweroff.qcow2", lambda path: guest.boot_disk(path, guest.POWEROFF))}
ISOS = {"blank": ("install.iso", blank_iso),
        "reset": ("reset.iso", lambda path: guest.boot_iso(path, guest.RESET))}


class RealCloud:
    def __init__(self, cli, net="10.252.0", tag="it", image="blank", iso=None, flat=(),
                 dns=None, agent=False, env=None):
        self.cli, self.net, self.tag = str(cli), net, tag
        self.image_kind, self.iso_kind, self.flat, self.dns = image, iso, tuple(flat), dns
        self.ids = {k: uid() for k in KEYS}
        self.replies = {}
        self.domains = []
        self.link = "zsit" + secrets.token_hex(3)
        self._linked = False
        self.work = tempfile.mkdtemp(prefix="zs-it-", dir="/var/tmp")
        os.chmod(self.work, 0o755)          # QEMU (libvirt-qemu) must reach the disks
        self.home = os.path.join(self.work, "home")
        self.ps = os.path.join(self.work, "ps")
        self.zs = command(self.cli, self.home, ZSTACK_HOST_AGENT="on" if agent else "off",
                          **(env or {}))

    def __call__(self, *words, expect=0):
        """The installed command on this cloud's store (see realhost.command)."""
        return self.zs(*words, expect=expect)

    # ------------------------------------------------------------ making
    def build(self, second_uri=None):
        made = subprocess.run(["ip", "link", "add", self.link, "type", "dummy"],
                              capture_output=True)
        if made.returncode != 0:            # a kernel without the dummy driver
            subprocess.run(["ip", "link", "add", self.link, "type", "veth", "peer", "name",
                            self.link + "p"], check=True)
        self._linked = True                 # a veth's peer goes with it
        zs, i, t, work, keep = self.zs, self.ids, self.tag, self.work, self.replies
        zs("CreateZone", f"name={t}-zone", f"resourceUuid={i['zone']}")
        zs("CreateCluster", f"name={t}-cluster", f"zoneUuid={i['zone']}", "hypervisorType=KVM",
           f"resourceUuid={i['cluster']}")
        zs("AddLocalPrimaryStorage", f"name={t}-ps", f"url={self.ps}", f"zoneUuid={i['zone']}",
           f"resourceUuid={i['ps']}")
        zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={i['ps']}",
           f"clusterUuid={i['cluster']}")
        keep["host"] = self._add_host("host", "127.0.0.1")
        if second_uri:
            keep["host2"] = self._add_host("host2", "127.0.0.2", f"libvirtUri={second_uri}")
        zs("AddSftpBackupStorage", f"name={t}-bs", f"url={work}/bs", "hostname=127.0.0.1",
           "username=root", "password=password", f"resourceUuid={i['bs']}")
        zs("AttachBackupStorageToZone", f"backupStorageUuid={i['bs']}", f"zoneUuid={i['zone']}")
        name, make = IMAGES[self.image_kind]
        make(os.path.join(work, name))
        keep["image"] = zs("AddImage", f"name={t}-image", "format=qcow2", f"url={work}/{name}",
                           f"backupStorageUuids={i['bs']}", f"resourceUuid={i['image']}")
        if self.iso_kind:
            name, make = ISOS[self.iso_kind]
            make(os.path.join(work, name))
            keep["iso"] = zs("AddImage", f"name={t}-iso", "format=iso", "mediaType=ISO",
                             f"url={work}/{name}", f"backupStorageUuids={i['bs']}",
                             f"resourceUuid={i['iso']}")
        zs("CreateInstanceOffering", f"name={t}-small", "cpuNum=1", "memorySize=64M",
           f"resourceUuid={i['offering']}")
        zs("CreateDiskOffering", f"name={t}-disk", "diskSize=16M", f"resourceUuid={i['disk']}")
        zs("CreateL2NoVlanNetwork", f"name={t}-l2", f"zoneUuid={i['zone']}",
           f"physicalInterface={self.link}", f"resourceUuid={i['l2']}")
        zs("AttachL2NetworkToCluster", f"l2NetworkUuid={i['l2']}", f"clusterUuid={i['cluster']}")
        zs("CreateL3Network", f"name={t}-l3", f"l2NetworkUuid={i['l2']}",
           f"resourceUuid={i['l3']}")
        zs("AddIpRange", f"l3NetworkUuid={i['l3']}", f"name={t}-range",
           f"startIp={self.net}.10", f"endIp={self.net}.40", "netmask=255.255.255.0",
           f"gateway={self.net}.1")
        if self.dns:
            zs("AddDnsToL3Network", f"l3NetworkUuid={i['l3']}", f"dns={self.dns}")
        if self.flat:
            services = ",".join(f"'{s}'" for s in self.flat)
            zs("AttachNetworkServiceToL3Network", f"l3NetworkUuid={i['l3']}",
               f"networkServices={{'Flat':[{services}]}}")
        return self

    def _add_host(self, key, ip, *extra):
        return self.zs("AddKVMHost", f"name={self.tag}-{key}",
                       f"clusterUuid={self.ids['cluster']}", f"managementIp={ip}",
                       "username=root", "password=password", *extra,
                       f"resourceUuid={self.ids[key]}")

    def domain(self):
        """A new uuid for a VM: any domain by that name is removed at close."""
        vm = uid()
        self.domains.append(vm)
        return vm

    def create_vm(self, *extra, iso=False, vm=None):
        """CreateVmInstance on the L3 from the template (or from the ISO, with the
        disk offering for its root disk); its inventory. ``vm``: a uuid from
        ``domain()`` (default: a new one)."""
        vm = vm or self.domain()
        i = self.ids
        image = ([f"imageUuid={i['iso']}", f"rootDiskOfferingUuid={i['disk']}"] if iso
                 else [f"imageUuid={i['image']}"])
        return self.zs("CreateVmInstance", f"name={self.tag}-{vm[:6]}",
                       f"instanceOfferingUuid={i['offering']}", f"l3NetworkUuids={i['l3']}",
                       f"resourceUuid={vm}", *image, *extra)

    def new_vm(self, *extra, iso=False):
        """A running VM (and its running domain); its uuid."""
        vm = self.domain()
        created = self.create_vm(*extra, iso=iso, vm=vm)
        assert created["state"] == "Running" and domstate(vm) == "running", created
        return vm

    # ------------------------------------------------------------ removing
    def close(self):
        host = self.ids["host"]
        if os.path.exists(self.home):
            subprocess.run([self.cli, "DeleteHost", f"uuid={host}", "deleteMode=Enforcing"],
                           env=self.zs.env, capture_output=True, timeout=120)
        for name in self.domains:
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
        for ns in netns_names():                # left by a DeleteHost that failed
            if ns.startswith(f"zsd-{host[:8]}-"):
                remove_netns(ns)
        if self._linked:
            from backend.network.flat.names import veth_names

            for dev in (veth_names(host, self.ids["l3"])[0], f"br_{self.link}", self.link):
                subprocess.run(["ip", "link", "del", dev], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.split()]


def netns_pids(ns):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()] if out.returncode == 0 else []


def remove_netns(ns):
    """Stop what still runs in a namespace of ours (by pid), then delete it."""
    for pid in netns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
