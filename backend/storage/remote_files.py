"""A remote host's files for a volume's move (transfer.py's interface for hosts
reached over ssh), and the copies that involve one:

- remote to remote: rsync run on the source pushes to the destination (host to
  host, never staged here; the source logs in to the destination by key, as
  ZStack's own hosts do);
- this machine to a remote host, and back: rsync run here, with the ssh of the
  remote host's libvirt URI.

Checksums of remote files are sha256 (sha256sum there), so a copy involving a
remote host is checked with sha256 on both sides (``SHA256`` prefixed) before
its source is deleted.
"""

import json
import os
import shlex

from ..i18n import msg
from . import StorageError, qemu_img
from .files import SHA256
from .ssh import BASE_OPTIONS, run_here


class SshFiles:
    """A remote host: every operation is a command run there over ssh, logged
    in as its libvirt URI says (ssh.SshTarget).

    ``runner`` runs an argv here and returns (status, stdout, stderr); tests give
    one that runs the remote command locally."""

    remote = True

    def __init__(self, target, runner=None):
        self.target = target
        self.runner = runner or run_here

    @property
    def address(self):
        return self.target.address

    @property
    def login(self):
        return self.target.login

    def _status(self, command):
        return self.runner(self.target.argv(shlex.join(command)))

    def run(self, *command, what):
        status, out, err = self._status(command)
        if status != 0:
            reason = (err.strip().splitlines() or [msg("exit status {code}", code=status)])[-1]
            raise StorageError(msg("cannot {what} on {address}: {reason}",
                                   what=what, address=self.address, reason=reason))
        return out

    def exists(self, logical):
        return self._status(["test", "-e", logical])[0] == 0

    def backing(self, logical):
        out = self.run("qemu-img", "info", "--output=json", "-U", "-f", "qcow2", logical,
                       what=msg("read {path}", path=logical))
        try:
            top = json.loads(out)
        except ValueError:
            raise StorageError(msg("qemu-img on {address} gave no JSON for {logical}",
                                   address=self.address, logical=logical))
        name = top.get("full-backing-filename") or top.get("backing-filename")
        if not name:
            return None, None, True
        return (os.path.normpath(os.path.join(os.path.dirname(logical), name)),
                top.get("backing-filename-format") or "qcow2",
                not os.path.isabs(top.get("backing-filename") or name))

    def digest(self, logical, kind="sha256"):
        out = self.run("sha256sum", "--", logical, what=msg("checksum {logical}", logical=logical))
        return SHA256 + out.split()[0] if out.split() else ""

    def durable_digest(self, logical, kind="sha256", progress=None):
        """Flush the file and the entries of its directory and the one above there,
        drop it from the page cache (GNU dd's nocache), then its sha256 (a remote
        host makes no other kind: ``kind`` is always sha256)."""
        out = self.run("sh", "-c", 'd=$(dirname -- "$1") && sync -- "$1" "$d" "$(dirname -- "$d")"'
                       ' && { dd if="$1" iflag=nocache count=0 2>/dev/null; '
                       'sha256sum -- "$1"; }',
                       "digest", logical, what=msg("checksum {logical}", logical=logical))
        if progress:
            progress(1, 1)
        return SHA256 + out.split()[0] if out.split() else ""

    def rebase(self, logical, backing, fmt):
        name = qemu_img.backing_name(logical, backing) if backing else ""
        self.run("qemu-img", "rebase", "-q", "-f", "qcow2", "-u", "-b", name,
                 *(["-F", fmt] if backing else []), logical, what=msg("rebase {path}",
                                                                      path=logical))

    def publish(self, tmp, final):
        """Rename ``tmp`` to ``final`` (made durable later, by durable_digest)."""
        self.run("mv", "-f", "-T", "--", tmp, final, what=msg("write {final}", final=final))

    def remove(self, logical):
        self.run("sh", "-c", 'rm -f -- "$1"; case "$(basename "$(dirname "$1")")" in '
                 'rootVolumes|dataVolumes|snapshots) ;; *) rmdir -- "$(dirname "$1")" '
                 '2>/dev/null;; esac; true', "remove", logical, what=msg("delete {logical}",
                                                                         logical=logical))

    def same_storage(self, other, directory):
        return isinstance(other, SshFiles) and (other.address, other.target.port) == \
            (self.address, self.target.port)


def copy_remote(src, logical, dst, tmp, progress=None):
    """rsync run on the source host pushes the file to ``tmp`` on the destination
    (sparse, whole file, making its directory; rsync checks what it wrote against
    the sender's whole-file checksum). Needs the source host to log in to the
    destination as root by key, as ZStack's own hosts do."""
    port = ["-p", str(dst.target.port)] if dst.target.port else []
    src.run("rsync", "--sparse", "--whole-file", "--mkpath", "--protect-args",
            "-e", shlex.join(["ssh", *BASE_OPTIONS, *port]), logical,
            f"{dst.target.rsync_login}:{tmp}",
            what=msg("copy {logical} to {address}", logical=logical, address=dst.address))
    if progress:
        progress(1, 1)


def _rsync_here(source, target, remote, what):
    ssh = remote.target
    status, _, err = remote.runner(["rsync", "--sparse", "--whole-file", "--mkpath",
                                    "--protect-args", "-e",
                                    shlex.join([ssh.program, *ssh.options()]), source, target])
    if status != 0:
        reason = (err.strip().splitlines() or [msg("exit status {code}", code=status)])[-1]
        raise StorageError(msg("cannot {what}: {reason}", what=what, reason=reason))


def copy_push(src, logical, dst, tmp, progress=None):
    """This machine's file to ``tmp`` on a remote host."""
    real = src.path(logical)
    _rsync_here(real, f"{dst.target.rsync_login}:{tmp}", dst,
                msg("copy {logical} to {address}", logical=logical, address=dst.address))
    if progress:
        progress(1, 1)


def copy_pull(src, logical, dst, tmp, progress=None):
    """A remote host's file to ``tmp`` here."""
    _rsync_here(f"{src.target.rsync_login}:{logical}", dst.path(tmp), src,
                msg("copy {logical} from {address}", logical=logical, address=src.address))
    if progress:
        progress(1, 1)


def copy(src, logical, dst, tmp, progress=None):
    """A copy with at least one remote end (transfer.copy)."""
    if src.remote and dst.remote:
        return copy_remote(src, logical, dst, tmp, progress)
    return (copy_pull if src.remote else copy_push)(src, logical, dst, tmp, progress)
