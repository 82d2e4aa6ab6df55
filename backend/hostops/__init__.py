"""What a host does with its own files and links for the VMs it runs: image
caches, volumes, snapshots, its storage root's capacity, bridges.

One set of operations (``HostOps`` in ops.py), reached two ways:

- a host whose files this machine reaches (a simulated host's private root,
  this machine's libvirtd, a private libvirtd of this machine in a mount
  namespace): ``HostOps`` runs here on the paths the host driver maps;
- a remote host (``qemu+ssh://...``): ``RemoteHostOps`` (remote.py) runs the
  same ``HostOps`` code *there*, as the host agent ZStack deploys on its KVM
  hosts: this package and the storage and bridge modules it uses travel as one
  zip application (bundle.py), copied over ssh the first time it is missing,
  and each operation is one ``ssh host python3 agent.pyz OP ARGS`` (its entry
  point is backend/agent/remote_main.py), or a line of a session of them.

Paths are the host's own (the records' installPath); results and errors come
back as JSON, errors as their message template so they are shown here in the
reply's language.
"""

from urllib.parse import urlsplit


def is_remote(uri):
    """A libvirt URI naming another machine (qemu+ssh://host/system)."""
    parsed = urlsplit(uri or "")
    return bool(parsed.hostname) or "+" in parsed.scheme


def for_host(uri, to_local, user="root"):
    """The operations of the host at ``uri``; ``to_local`` maps its paths to this
    machine's (the host driver's local_path) for a host this machine reaches;
    ``user`` logs in to a remote host whose URI names none."""
    if is_remote(uri):
        from .remote import RemoteHostOps
        from ..storage.ssh import SshTarget

        return RemoteHostOps(SshTarget.from_uri(uri, user))
    from .ops import HostOps

    return HostOps(to_local)
