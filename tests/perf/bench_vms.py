"""VMs at scale: creating 1,000 VMs in one batch file, and querying 100k VMs.

1. ``zstack-cli -f FILE > /dev/null`` with 1,000 ``CreateVmInstance`` lines (InstantStart) on
   one simulated host (libvirtUri=test:///default), after a setup batch building zone, cluster,
   host, local primary storage, backup storage, a qcow2 image, an instance offering and an
   L2/L3 network with a /16 range (AddIpRangeByNetworkCidr). Every uuid is fixed, as in
   tests/e2e/test_compute_batch.py. The setup batch is not timed; the VM batch is, end to end
   as a process (interpreter start-up included), median of 3, each on a fresh store.
   Against, in the same run (interleaved): ONE ``virsh -c test:///default`` process reading
   1,000 ``define <file>`` + ``start <name>`` commands from stdin (test:///default keeps its
   domains in the memory of one process), with domain XML made by
   backend.hypervisor.domain.domain_xml (type qemu, a qcow2 disk, a bridge NIC, VNC).
   Target: zstack-cli's time at most 5x virsh's. Also printed, for the analysis: the pace per
   VM over the first and the last 100 VMs (from their createDate); the same batch with
   strategy=JustCreate (no libvirt; records only where JustCreate defers the disks to the
   first start); 1,000 bare
   ``qemu-img create -b`` (one sh process), the floor of any design running one qemu-img per
   root volume; and a cProfile of one zstack-cli run (separate, fresh store) split into
   qemu-img / libvirt + simulator / domain XML / store / the rest, with the top cumulative
   entries.

2. 100,000 VMs inserted straight into VmInstanceVO / VmNicVO / UsedIpVO / VolumeVO of a store
   migrated and set up by the setup batch (10 simulated hosts, two L3 networks), in one
   transaction: distinct IPs and MACs, every 10th VM with a second NIC, every 4th with a data
   volume, states mixed (60% Running). No ANALYZE, as users' stores have none. In-process
   (Client.call, as the shell), median of 20 calls after 2 warm-ups, each < 50 ms:
       QueryVmInstance vmNics.ip=<ip>            (one VM)
       QueryVmInstance state=Running             (default limit: 1,000 inventories with their
                                                  vmNics and allVolumes embedded)
       QueryVmInstance state=Running count=true
       QueryVmInstance state=Running limit=10
   For a query that misses (or passes with less than 20% to spare): its SQL, EXPLAIN QUERY
   PLAN, a cProfile of one call, why, and the SQL that would serve it timed on the same store.

    .venv/bin/python tests/perf/bench_vms.py
"""

import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _perf  # noqa: E402
from _perf import CLI, PYTHON, env_for, heading, report, run_measured, summary, time_calls  # noqa: E402

BENCH = "vms"
VMS = 1000
REPEATS = 3
MAX_RATIO = 5.0
QUERY_VMS = 100_000
QUERY_HOSTS = 10
RUNS = 20
WARMUPS = 2
QUERY_MS = 50.0
NEAR = 0.8                     # a query past 80% of its target gets the same analysis as a miss

ZONE, CLUSTER = "a1" * 16, "a2" * 16
PS, BS, IMAGE, OFFERING, DISK = "b1" * 16, "b2" * 16, "b3" * 16, "b4" * 16, "b5" * 16
L2, L3, L3B = "c1" * 16, "c2" * 16, "c3" * 16
MiB = 1024 * 1024
IMAGE_SIZE = 16 * MiB          # virtual size of the template (sparse: about 200 KiB on disk)
MEMORY = 64 * MiB


def host_uuid(i):
    return f"a3{i:030x}"


def vm_uuid(i):
    return f"d1{i:030x}"


# -- the cloud -------------------------------------------------------------------------------------

def setup_batch(work, hosts=1, second_l3=False):
    """The batch that builds a cloud from nothing (every uuid fixed)."""
    lines = [
        f"CreateZone name=zone1 resourceUuid={ZONE}",
        f"CreateCluster name=cluster1 zoneUuid={ZONE} hypervisorType=KVM resourceUuid={CLUSTER}",
        f"AddLocalPrimaryStorage name=ps1 url=/zstack_ps zoneUuid={ZONE} resourceUuid={PS}",
        f"AttachPrimaryStorageToCluster primaryStorageUuid={PS} clusterUuid={CLUSTER}",
    ]
    for i in range(hosts):
        lines.append(f"AddKVMHost name=host{i} clusterUuid={CLUSTER} managementIp=127.0.0.{i + 1}"
                     f" username=root password=password libvirtUri=test:///default"
                     f" resourceUuid={host_uuid(i)}")
    lines += [
        f"AddSftpBackupStorage name=bs1 url={work}/bs hostname=127.0.0.1 username=root"
        f" password=password resourceUuid={BS}",
        f"AttachBackupStorageToZone backupStorageUuid={BS} zoneUuid={ZONE}",
        f"AddImage name=tiny format=qcow2 url=file://{work}/tiny.qcow2 backupStorageUuids={BS}"
        f" resourceUuid={IMAGE}",
        f"CreateInstanceOffering name=small cpuNum=1 memorySize=64M resourceUuid={OFFERING}",
        f"CreateDiskOffering name=d1 diskSize=1G resourceUuid={DISK}",
        f"CreateL2NoVlanNetwork name=l2 zoneUuid={ZONE} physicalInterface=eth1"
        f" resourceUuid={L2}",
        f"AttachL2NetworkToCluster l2NetworkUuid={L2} clusterUuid={CLUSTER}",
        f"CreateL3Network name=l3 l2NetworkUuid={L2} resourceUuid={L3}",
    ]
    if second_l3:
        # 100k VMs need more than a /16: a /14 (262,142 addresses) and a second network.
        lines += [f"AddIpRangeByNetworkCidr l3NetworkUuid={L3} name=r1 networkCidr=10.0.0.0/14",
                  f"CreateL3Network name=l3b l2NetworkUuid={L2} resourceUuid={L3B}",
                  f"AddIpRangeByNetworkCidr l3NetworkUuid={L3B} name=r2"
                  f" networkCidr=172.16.0.0/16"]
    else:
        lines.append(f"AddIpRangeByNetworkCidr l3NetworkUuid={L3} name=r1"
                     f" networkCidr=10.0.0.0/16")
    path = os.path.join(work, f"setup-{hosts}.zs")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def vm_batch(work, strategy=None):
    path = os.path.join(work, f"vms-{strategy or 'default'}.zs")
    extra = f" strategy={strategy}" if strategy else ""
    with open(path, "w") as f:
        for i in range(VMS):
            f.write(f"CreateVmInstance name=vm-{i:04d} instanceOfferingUuid={OFFERING}"
                    f" imageUuid={IMAGE} l3NetworkUuids={L3} resourceUuid={vm_uuid(i)}{extra}\n")
    return path


def pace(home, first=100):
    """ms per VM over the first and the last ``first`` VMs of the batch, from the VMs'
    createDate (stamped as each one's records are written): how the cost grows."""
    from datetime import datetime

    conn = sqlite3.connect(os.path.join(home, "zstack.db"))
    try:
        stamps = [datetime.fromisoformat(r[0]) for r in conn.execute(
            "SELECT createDate FROM VmInstanceVO ORDER BY createDate, rowid")]
    finally:
        conn.close()

    def per_vm(a, b):
        return (stamps[b] - stamps[a]).total_seconds() * 1000 / (b - a)
    return per_vm(0, first), per_vm(len(stamps) - 1 - first, len(stamps) - 1)


def fresh_cloud(home, work, setup, hosts=1):
    """An empty home, hosts big enough for every VM (the default simulated host has 32 CPUs
    and 64 GiB, without overcommit), and the setup batch run through zstack-cli."""
    # The previous run's files are set aside, not deleted: they go with the temporary
    # directory after the last run. On this machine's ext4, a file created within seconds
    # of thousands of deletions costs several times more (the inode allocator reads past
    # every recently freed inode: `recently_deleted` in a `perf record`), which would
    # charge one run for the clean-up of the one before it.
    for old in (home, os.path.join(work, "bs")):
        if os.path.exists(old):
            os.rename(old, tempfile.mkdtemp(prefix="retired-", dir=work))
    for i in range(hosts):
        directory = os.path.join(home, "hosts", host_uuid(i))
        os.makedirs(directory)
        with open(os.path.join(directory, "capacity.json"), "w") as f:
            json.dump({"cpuNum": 2 * VMS, "memoryBytes": 2 * VMS * MEMORY}, f)
    out = subprocess.run([CLI, "-f", setup], env=env_for(home), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    assert out.returncode == 0 and "Traceback" not in out.stderr, \
        f"setup batch failed ({out.returncode}): {out.stderr[-2000:]}"


def _count(home, sql):
    conn = sqlite3.connect(os.path.join(home, "zstack.db"))
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# -- the virsh baseline ----------------------------------------------------------------------------

def virsh_commands(work):
    """1,000 domain XML files and the define/start commands for one virsh process."""
    from backend.hypervisor.domain import domain_xml

    xml_dir = os.path.join(work, "xml")
    os.makedirs(xml_dir)
    names = []
    rng = random.Random(7)
    path = os.path.join(work, "virsh.cmds")
    with open(path, "w") as cmds:
        for i in range(VMS):
            uuid = f"e1{i:030x}"
            spec = {"uuid": uuid, "name": f"vm-{i:04d}", "cpuNum": 1, "memorySize": MEMORY,
                    "domainType": "qemu",
                    "volumes": [{"uuid": f"{rng.getrandbits(128):032x}", "format": "qcow2",
                                 "path": f"/zstack_ps/rootVolumes/{uuid}-root.qcow2",
                                 "deviceId": 0, "type": "Root"}],
                    "nics": [{"mac": "fa:" + ":".join(f"{rng.randrange(256):02x}"
                                                      for _ in range(5)),
                              "deviceId": 0, "bridge": "br_eth1"}],
                    "cdrom": {"path": None}, "bootOrder": ["HardDisk"], "console": "vnc"}
            xml = os.path.join(xml_dir, f"{uuid}.xml")
            with open(xml, "w") as f:
                f.write(domain_xml(spec))
            cmds.write(f"define {xml}\nstart {uuid}\n")
            names.append(uuid)
        cmds.write("list --name --state-running\n")
    return path, set(names)


def run_virsh(cmds, names, out_path):
    with open(cmds, "rb") as stdin, open(out_path, "wb") as stdout:
        t, code, rss, err = run_measured(["virsh", "-c", "test:///default"], stdin=stdin,
                                         stdout=stdout)
    assert code == 0, f"virsh failed ({code}): {err[-2000:]}"
    with open(out_path, encoding="utf-8", errors="replace") as f:
        running = sum(1 for line in f if line.strip() in names)
    assert running == VMS and "error" not in err.lower(), \
        f"virsh ran {running} of {VMS} domains: {err[-2000:]}"
    return t, rss


def qemu_img_floor(work, cache):
    """1,000 `qemu-img create -b` run by one sh: one process per root volume, nothing else."""
    out_dir = os.path.join(work, "floor")
    os.makedirs(out_dir)
    script = os.path.join(work, "floor.sh")
    with open(script, "w") as f:
        for i in range(VMS):
            f.write(f"qemu-img create -q -f qcow2 -b {cache} -F qcow2 {out_dir}/v{i}.qcow2\n")
    t, code, _, err = run_measured(["sh", "-e", script])
    assert code == 0, f"qemu-img floor failed: {err[-2000:]}"
    shutil.rmtree(out_dir, ignore_errors=True)
    return t


# -- the profile of one create batch ---------------------------------------------------------------

def _find(stats, path_end, func):
    """(cumulative, tottime, calls) summed over functions named ``func`` in files ending so."""
    cum = tot = calls = 0
    for (filename, _, name), (_, nc, tt, ct, _) in stats.stats.items():
        if name == func and filename.replace(os.sep, "/").endswith(path_end):
            cum += ct
            tot += tt
            calls += nc
    return cum, tot, calls


def _builtins(stats, needle):
    tot = calls = 0
    for (filename, _, name), (_, nc, tt, _, _) in stats.stats.items():
        if filename == "~" and needle in name:
            tot += tt
            calls += nc
    return tot, calls


def profile_create(home, batch, prof_path, top=30):
    import pstats

    proc = subprocess.run([PYTHON, "-m", "cProfile", "-o", prof_path, CLI, "-f", batch],
                          env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    assert proc.returncode == 0, f"profiled run failed: {proc.stderr[-2000:]}"
    stats = pstats.Stats(prof_path)
    total = stats.total_tt

    root_cum, _, root_n = _find(stats, "backend/storage/local.py", "create_root_volume")
    img_cum, _, img_n = _find(stats, "backend/storage/qemu_img.py", "run")
    info_cum, _, info_n = _find(stats, "backend/storage/qemu_img.py", "info")
    create_cum, _, create_n = _find(stats, "backend/storage/qemu_img.py", "create")
    define_cum, _, define_n = _find(stats, "backend/hypervisor/driver.py", "define")
    start_cum, _, start_n = _find(stats, "backend/hypervisor/simulator/driver.py", "start")
    store_cum, _, _ = _find(stats, "backend/hypervisor/simulator/session.py", "_store")
    xmldesc, xmldesc_n = _builtins(stats, "virDomainGetXMLDesc")
    fsync, fsync_n = _builtins(stats, "posix.fsync")
    xml_cum, _, xml_n = _find(stats, "backend/hypervisor/domain.py", "domain_xml")
    spec_cum, _, _ = _find(stats, "backend/services/vm_spec.py", "domain_spec")
    sql, sql_n = _builtins(stats, "sqlite3.")
    libvirt = define_cum + start_cum
    other = total - root_cum - libvirt - xml_cum - sql

    def line(label, seconds, extra=""):
        return f"  {label:<58} {seconds:7.2f} s  {seconds / total * 100:5.1f}%  {extra}"

    out = [f"  cProfile of one `zstack-cli -f` with {VMS} CreateVmInstance (fresh store): "
           f"{total:.1f} s under the profiler; where it goes:",
           line("root volumes (local.create_root_volume)", root_cum, f"{root_n} calls"),
           line("  of which qemu-img processes (qemu_img.run)", img_cum,
                f"{img_n} runs: {info_n} `info` of the image cache ({info_cum:.2f} s) + "
                f"{create_n} `create -b` ({create_cum:.2f} s incl. publish/fsync)"),
           line("libvirt test driver + simulator (define + start)", libvirt,
                f"{define_n} define, {start_n} start"),
           line("  of which rewriting the node file (simulator._store)", store_cum,
                f"{xmldesc_n:,} virDomainGetXMLDesc calls ({xmldesc:.2f} s); "
                f"{fsync_n} fsync ({fsync:.2f} s, all callers)"),
           line("domain XML (domain.domain_xml)", xml_cum,
                f"{xml_n} calls; domain_spec incl. its reads: {spec_cum:.2f} s"),
           line("store (time inside sqlite3 calls)", sql, f"{sql_n:,} calls"),
           line("everything else (parse, validate, IPAM, inventories, output)", other)]
    text = io.StringIO()
    pstats.Stats(prof_path, stream=text).strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = text.getvalue().splitlines()
    start = next((i for i, row in enumerate(lines) if "ncalls" in row), 0)
    out.append(f"  top {top} by cumulative time:")
    out.append(_perf.indent("\n".join(lines[start:start + top + 1])))
    return "\n".join(out), {"total": total, "root": root_cum, "qemu_img": img_cum,
                            "libvirt": libvirt, "node_file": store_cum, "xml": xml_cum,
                            "store": sql, "other": other}


def bench_create(work, home, records):
    print(f"  -- {VMS} x CreateVmInstance in one batch file vs {VMS} x virsh define + start")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(work, "tiny.qcow2"),
                    str(IMAGE_SIZE)], check=True)
    setup = setup_batch(work)
    batch = vm_batch(work)
    cmds, names = virsh_commands(work)
    virsh_out = os.path.join(work, "virsh.out")

    cli_t, cli_rss, virsh_t, virsh_rss = [], 0, [], 0
    for _ in range(REPEATS):
        t, rss = run_virsh(cmds, names, virsh_out)
        virsh_t.append(t)
        virsh_rss = max(virsh_rss, rss)

        fresh_cloud(home, work, setup)
        t, code, rss, err = run_measured([CLI, "-f", batch], env=env_for(home))
        assert code == 0 and "Traceback" not in err, \
            f"zstack-cli -f failed ({code}): {err[-2000:]}"
        running = _count(home, "SELECT COUNT(*) FROM VmInstanceVO WHERE state = 'Running'")
        assert running == VMS, f"{running} of {VMS} VMs Running"
        cli_t.append(t)
        cli_rss = max(cli_rss, rss)

    early, late = pace(home)
    cache = next(Path(home, "hosts", host_uuid(0), "fs", "zstack_ps").rglob(f"{IMAGE}.qcow2"))
    floor = qemu_img_floor(work, str(cache))
    # The same batch with strategy=JustCreate: disks and records, no libvirt at all.
    fresh_cloud(home, work, setup)
    just, code, _, err = run_measured([CLI, "-f", vm_batch(work, "JustCreate")],
                                      env=env_for(home))
    assert code == 0 and "Traceback" not in err, f"JustCreate batch failed: {err[-2000:]}"
    built = _count(home, "SELECT COUNT(*) FROM VolumeVO WHERE status = 'Ready'")
    just_what = ("root volumes + records, no libvirt" if built else
                 "records only: this product makes no disk and no domain before the first start")

    cli_med, virsh_med = statistics.median(cli_t), statistics.median(virsh_t)
    ratio = cli_med / virsh_med
    print(f"  zstack-cli -f: {VMS / cli_med:,.1f} VMs/s (median of {REPEATS}: {cli_med:.2f} s; "
          f"runs {', '.join(f'{t:.2f}' for t in cli_t)} s; {cli_med / VMS * 1000:.1f} ms/VM), "
          f"peak RSS {_perf.mib(cli_rss)}")
    print(f"  virsh (one process, stdin): {VMS / virsh_med:,.0f} VMs/s (median of {REPEATS}: "
          f"{virsh_med:.3f} s; runs {', '.join(f'{t:.3f}' for t in virsh_t)} s), "
          f"peak RSS {_perf.mib(virsh_rss)}")
    print(f"  zstack-cli pace (from createDate, last run): {early:.1f} ms/VM over the first 100,"
          f" {late:.1f} ms/VM over the last 100")
    print(f"  same batch with strategy=JustCreate ({just_what}): "
          f"{just:.2f} s = {just / virsh_med:.1f}x virsh")
    print(f"  for scale: {VMS} x `qemu-img create -b` alone (one sh): {floor:.2f} s "
          f"({floor / VMS * 1000:.1f} ms each) = {floor / virsh_med:.1f}x virsh: the floor of "
          f"one qemu-img process per root volume")
    records.append(report(
        BENCH, f"CreateVmInstance x{VMS} in one batch (VMs/s)", VMS / cli_med, "VMs/s",
        f"<= {MAX_RATIO:g}x virsh's time = >= {VMS / (virsh_med * MAX_RATIO):,.0f} VMs/s",
        ratio <= MAX_RATIO, cli_rss, "zstack-cli process",
        detail=f"{cli_med:.2f} s = {ratio:.1f}x virsh's {virsh_med:.3f} s "
               f"({VMS / virsh_med:,.0f} VMs/s, peak RSS {_perf.mib(virsh_rss)})"))

    fresh_cloud(home, work, setup)
    text, _ = profile_create(home, batch, os.path.join(work, "create.prof"))
    print(text, flush=True)


# -- 100k VMs --------------------------------------------------------------------------------------

STATES = (("Running", 60), ("Stopped", 25), ("Created", 5), ("Destroyed", 5), ("Paused", 2),
          ("Unknown", 2), ("Starting", 1))


def bulk_vms(home, n, rng):
    """Insert ``n`` VMs with NICs, used IPs and volumes straight into the store (one
    transaction). Returns {"states": Counter-like dict, "probe": (vm uuid, ip)}."""
    conn = sqlite3.connect(os.path.join(home, "zstack.db"), isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        ranges = {r["l3NetworkUuid"]: dict(r) for r in conn.execute("SELECT * FROM IpRangeVO")}
        image = dict(conn.execute("SELECT * FROM ImageVO WHERE uuid = ?", (IMAGE,)).fetchone())
        offering = dict(conn.execute("SELECT * FROM InstanceOfferingVO WHERE uuid = ?",
                                     (OFFERING,)).fetchone())
        hosts = [host_uuid(i) for i in range(QUERY_HOSTS)]

        def addresses(l3, count):
            r = ranges[l3]
            gateway = int.from_bytes(bytes(int(x) for x in r["gateway"].split(".")), "big")
            pool = range(r["startIpInLong"], r["endIpInLong"] + 1)
            picked = [a for a in rng.sample(pool, count + 1) if a != gateway][:count]
            return r, picked

        second = list(range(0, n, 10))
        range_a, ips_a = addresses(L3, n)
        range_b, ips_b = addresses(L3B, len(second))
        macs = set()
        while len(macs) < n + len(second):
            macs.add("fa:" + ":".join(f"{b:02x}" for b in rng.randbytes(5)))
        macs = list(macs)
        rng.shuffle(macs)
        names = [s for s, _ in STATES]
        weights = [w for _, w in STATES]
        states = rng.choices(names, weights, k=n)
        stamps = list(_perf._stamps(n))

        def to_ip(a):
            return ".".join(str(b) for b in a.to_bytes(4, "big"))

        def uid():
            return f"{rng.getrandbits(128):032x}"

        vms, nics, used, volumes = [], [], [], []
        b = 0
        for i in range(n):
            uuid, stamp, host = vm_uuid(i), stamps[i], hosts[i % len(hosts)]
            root = uid()
            vms.append((uuid, f"vm-{i:06d}", None, ZONE, CLUSTER, host, host, IMAGE, OFFERING,
                        root, L3, "UserVm", "KVM", offering["cpuNum"], offering["cpuSpeed"],
                        offering["memorySize"], image["platform"],
                        offering["allocatorStrategy"], states[i], stamp, stamp))
            legs = [(L3, range_a, ips_a[i])]
            if i % 10 == 0:
                legs.append((L3B, range_b, ips_b[b]))
                b += 1
            for device, (l3, r, address) in enumerate(legs):
                nic, used_ip = uid(), uid()
                ip = to_ip(address)
                used.append((used_ip, r["uuid"], l3, ip, address, r["gateway"], r["netmask"],
                             "VmNic", nic, stamp))
                nics.append((nic, uuid, l3, ip, macs[len(nics)], r["netmask"], r["gateway"],
                             used_ip, device, None, stamp, stamp))
            volumes.append((root, f"ROOT-for-vm-{i:06d}", None, PS, uuid, None, IMAGE,
                            f"/zstack_ps/rootVolumes/{uuid}-{root}.qcow2", "Root", "qcow2",
                            IMAGE_SIZE, 200704, 0, "Enabled", "Ready", 0, stamp, stamp))
            if i % 4 == 0:
                data = uid()
                volumes.append((data, f"DATA-for-vm-{i:06d}-1", None, PS, uuid, DISK, None,
                                f"/zstack_ps/dataVolumes/{data}.qcow2", "Data", "qcow2",
                                1024 * MiB, 196616, 1, "Enabled", "Ready", 0, stamp, stamp))

        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO VmInstanceVO (uuid, name, description, zoneUuid, clusterUuid, hostUuid,"
            " lastHostUuid, imageUuid, instanceOfferingUuid, rootVolumeUuid,"
            " defaultL3NetworkUuid, type, hypervisorType, cpuNum, cpuSpeed, memorySize,"
            " platform, allocatorStrategy, state, createDate, lastOpDate)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", vms)
        conn.executemany(
            "INSERT INTO UsedIpVO (uuid, ipRangeUuid, l3NetworkUuid, ip, ipInLong, gateway,"
            " netmask, usedFor, vmNicUuid, createDate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            used)
        conn.executemany(
            "INSERT INTO VmNicVO (uuid, vmInstanceUuid, l3NetworkUuid, ip, mac, netmask,"
            " gateway, usedIpUuid, deviceId, metaData, createDate, lastOpDate)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", nics)
        conn.executemany(
            "INSERT INTO VolumeVO (uuid, name, description, primaryStorageUuid, vmInstanceUuid,"
            " diskOfferingUuid, rootImageUuid, installPath, type, format, size, actualSize,"
            " deviceId, state, status, isShareable, createDate, lastOpDate)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", volumes)
        conn.execute("COMMIT")
    finally:
        conn.close()
    counts = {s: states.count(s) for s in names}
    probe = 87_654
    return {"states": counts, "probe": (vm_uuid(probe), to_ip(ips_a[probe])),
            "nics": len(nics), "volumes": len(volumes)}


# Queries that may miss: why, and SQL that would serve them (timed on the same store).
FIXES = {
    "QueryVmInstance vmNics.ip=<ip>": (
        "the dotted condition compiles to a correlated EXISTS (SELECT 1 FROM VmNicVO t1 WHERE "
        "t1.vmInstanceUuid = t0.uuid AND t1.ip = ?): SQLite walks every VmInstanceVO row in "
        "rowid order and probes VmNicVO per row, so the index on VmNicVO.ip is never the way "
        "in. Fix in backend/store/query.py, Compiler.term (the `if \".\" in name` branch): for "
        "a many-relation, emit t0.\"uuid\" IN (SELECT t1.\"vmInstanceUuid\" FROM \"VmNicVO\" t1 "
        "WHERE <inner>), i.e. `{alias}.\"{rel.local}\" IN (SELECT {sub}.\"{rel.remote}\" FROM "
        "... WHERE {inner})`, as _tag_term already does: the planner then starts from the "
        "ip index and looks VMs up by primary key. Same rows, NULLs aside (rel.local NULL "
        "never matches either way).",
        lambda sql: sql.replace(
            'EXISTS (SELECT 1 FROM "VmNicVO" t1 WHERE t1."vmInstanceUuid" = t0."uuid" AND ',
            't0."uuid" IN (SELECT t1."vmInstanceUuid" FROM "VmNicVO" t1 WHERE ')),
}


def bench_queries(work, home, records):
    from bench_query import SqlCapture, explain

    print(f"  -- queries at {QUERY_VMS // 1000}k VMs")
    t0 = time.perf_counter()
    fresh_cloud(home, work, setup_batch(work, hosts=QUERY_HOSTS, second_l3=True),
                hosts=QUERY_HOSTS)
    data = bulk_vms(home, QUERY_VMS, random.Random(42))
    running = data["states"]["Running"]
    probe_vm, probe_ip = data["probe"]
    mix = ", ".join(f"{s} {c:,}" for s, c in data["states"].items())
    print(f"  store: {QUERY_VMS:,} VMs ({mix}), {data['nics']:,} NICs, "
          f"{data['volumes']:,} volumes on {QUERY_HOSTS} hosts, "
          f"built in {time.perf_counter() - t0:.1f} s (no ANALYZE)")

    from zstackcli.client import Client

    client = Client(home)
    store = client.backend.store

    def call(conditions=(), **options):
        params = dict(options)
        params["conditions"] = [{"name": n, "op": o, "value": v} for n, o, v in conditions]

        def fn():
            reply = client.call("QueryVmInstance", params)
            assert reply.get("success"), reply
            return reply
        return fn

    def full_page(r):
        invs = r["inventories"]
        return (len(invs) == 1000 and all(v["state"] == "Running" for v in invs)
                and all(v["vmNics"] and v["allVolumes"] for v in invs))

    queries = [
        ("QueryVmInstance vmNics.ip=<ip>", call([("vmNics.ip", "=", probe_ip)]),
         lambda r: [v["uuid"] for v in r["inventories"]] == [probe_vm]),
        ("QueryVmInstance state=Running (1,000 with vmNics + allVolumes)",
         call([("state", "=", "Running")]), full_page),
        ("QueryVmInstance state=Running count=true", call([("state", "=", "Running")],
                                                          count="true"),
         lambda r: r["total"] == running),
        ("QueryVmInstance state=Running limit=10", call([("state", "=", "Running")],
                                                        limit="10"),
         lambda r: len(r["inventories"]) == 10),
    ]
    failures = []
    for name, fn, ok in queries:
        first = fn()
        assert ok(first), f"{name}: unexpected reply {str(first)[:300]}"
        with SqlCapture(store) as cap:
            fn()
        s = summary(time_calls(fn, RUNS, WARMUPS))
        ms = s["median"] * 1000
        passed = ms < QUERY_MS
        records.append(report(
            BENCH, name, ms, "ms", f"< {QUERY_MS:g} ms median", passed, _perf.self_rss_kib(),
            "bench process, RUSAGE_SELF",
            detail=f"min {s['min'] * 1000:.2f}, p90 {s['p90'] * 1000:.2f}, "
                   f"max {s['max'] * 1000:.2f} ms; n={s['n']}; "
                   f"{len(cap.statements)} SQL statement(s)"))
        if ms >= NEAR * QUERY_MS:
            failures.append((name, fn, cap.statements, ms, passed))

    for name, fn, statements, ms, passed in failures:
        verdict = (f"passes, but within {(1 - NEAR) * 100:.0f}% of its target" if passed
                   else "misses its target")
        print(f"\n  --- {name}: {ms:.2f} ms {verdict}; what it runs:")
        for sql, args in statements:
            print(f"      SQL:  {sql}")
            print(f"      args: {args if len(args) < 8 else args[:6] + ('...',)}")
            print("      EXPLAIN QUERY PLAN:")
            for line in explain(store, sql, args):
                print(f"        {line}")
            sql_ms = statistics.median(time_calls(
                lambda sql=sql, args=args: store.conn.execute(sql, args).fetchall(), 5,
                1)) * 1000
            print(f"      this statement alone: {sql_ms:.2f} ms")
        print("      cProfile of one call (top 15 by internal time):")
        print(_perf.indent(_perf.cprofile_text(fn, top=15, sort="tottime"), "        "))
        why, rewrite = FIXES.get(name, ("no analysis recorded", None))
        print(f"      why: {why}")
        if rewrite and statements:
            sql, args = statements[0]
            better = rewrite(sql)
            if better != sql:
                before = store.conn.execute(sql, args).fetchall()
                after = store.conn.execute(better, args).fetchall()
                assert [tuple(r) for r in before] == [tuple(r) for r in after]
                sql_ms = statistics.median(time_calls(
                    lambda sql=better, args=args: store.conn.execute(sql, args).fetchall(),
                    RUNS, WARMUPS)) * 1000
                print(f"      rewritten (same rows): {better}")
                print(f"      EXPLAIN QUERY PLAN of the rewrite; median {sql_ms:.2f} ms alone:")
                for line in explain(store, better, args):
                    print(f"        {line}")
    client.close()


def run():
    heading(f"VMs: {VMS} x CreateVmInstance in one batch vs virsh; queries at "
            f"{QUERY_VMS // 1000}k VMs")
    records = []
    with _perf.temp_home() as home:
        work = os.path.dirname(home)
        bench_create(work, home, records)
        bench_queries(work, home, records)
    return records


def test_vms():
    records = run()
    failed = [r["name"] for r in records if not r["passed"]]
    assert not failed, f"targets missed: {failed}"


if __name__ == "__main__":
    sys.exit(_perf.main(run))
