"""The Flat provider's metadata on a remote host (SPEC §9).

On this machine's hosts the metadata server reads the records on every request.
A remote host has no records, so what each of its VMs may read is carried there
as a document per address (``<ip>.json`` in its server's state directory, see
backend.agent.metadata_server), rewritten whenever what it holds may change: the
VM's entries are synced (started, stopped, moved), or one of its tags that the
metadata shows changes (``refresh_vm``, from the tag services). The user-data is
made final here (a #cloud-config generated for keys and a password), so the
host needs nothing but the standard library to serve it.
"""

METADATA_ADDRESS = "169.254.169.254"
# The tags whose values the metadata shows.
SHOWN_TAGS = ("userdata::", "sshkey::", "rootPassword::", "hostname::")


def directory(server_dir):
    return f"{server_dir}/metadata"


def command(host_uuid, l3_uuid, server_dir, server_ip):
    """The metadata server of a remote host: the agent's own, reading documents."""
    from ..hostops import bundle
    from ..hostops.remote import AGENT_DIR

    name, _ = bundle.build()
    return ["python3", "-I", "-S", f"~/{AGENT_DIR}/{name}", "metadata",
            "--documents", directory(server_dir), "--host", host_uuid, "--l3", l3_uuid,
            "--address", server_ip, "--address", METADATA_ADDRESS]


def _documents(ctx, host_uuid, l3_uuid, ips):
    # Here, not at the top: services.metadata imports yaml, which only a remote
    # host's documents need (flat.py, which imports this, is on every VM's path).
    from ..network.flat.documents import document
    from . import metadata

    docs = {}
    for ip in ips:
        meta = metadata.lookup(ctx.store, host_uuid, l3_uuid, ip)
        if meta is not None:
            docs[ip] = document(meta, metadata.user_data_or_generated(meta))
    return docs


def publish(ctx, host_ops, host_uuid, l3_uuid, server_dir, wanted, macs=None):
    """The documents of the served NICs ``wanted`` (flat.sync's entries); with
    ``macs`` (one VM's NICs on the L3) only theirs change, else all of them."""
    ips = [entry["ip"] for entry in wanted]
    drop = None
    if macs is not None:
        marks = ", ".join("?" for _ in macs)
        rows = ctx.store.rows(f"SELECT ip FROM VmNicVO WHERE mac IN ({marks})", tuple(macs))
        drop = [r["ip"] for r in rows if r["ip"] and r["ip"] not in ips]
    host_ops.metadata_documents(directory(server_dir), _documents(ctx, host_uuid, l3_uuid, ips),
                                drop)
