"""How this machine logs in to a remote host: the ssh of its libvirt URI.

``qemu+ssh://[user@]host[:port]/system?keyfile=K&no_verify=1&command=C`` is
what libvirt itself uses to reach the host, so the files and links of that host
are reached with the same login: the same user, port and key, host keys not
checked when ``no_verify`` says so, and ``command`` as the ssh program when
given (libvirt's parameters of the same names).
"""

import os
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

from ..i18n import msg
from . import StorageError

BASE_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
PERSIST_ENV = "ZSTACK_SSH_PERSIST"      # seconds a shared connection outlives its last use


def _control_dir():
    """A private directory for ssh's shared connections, or None.

    One ssh login costs about 0.18 s here, and a VM on a remote host takes
    several operations; a master connection kept ``ZSTACK_SSH_PERSIST`` seconds
    (60 by default, 0 turns it off) makes the next ones cost a few ms. Its
    socket path must be short (108 bytes at most), hence the temporary
    directory rather than $ZSTACK_HOME; it must be ours and closed to others,
    since whoever can reach the socket can run commands as us on the host."""
    import stat
    import tempfile

    try:
        if int(os.environ.get(PERSIST_ENV, "60")) <= 0:
            return None
    except ValueError:
        return None
    path = os.path.join(tempfile.gettempdir(), f"zstack-cli-ssh-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path


class SshTarget:
    def __init__(self, address, user="root", port=None, keyfile=None, verify=True,
                 program="ssh"):
        self.address = address
        self.user = user or "root"
        self.port = port
        self.keyfile = keyfile
        self.verify = verify
        self.program = program or "ssh"

    @classmethod
    def from_uri(cls, uri, default_user="root"):
        parsed = urlsplit(uri)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        try:
            port = parsed.port
        except ValueError:
            raise StorageError(msg("the port of {uri} is not a number", uri=uri)) from None
        if not parsed.hostname:
            raise StorageError(msg("{uri} names no host to log in to", uri=uri))
        user = unquote(parsed.username or "")
        if user.startswith("-") or parsed.hostname.startswith("-"):
            raise StorageError(msg("{uri} names a user or host starting with '-'", uri=uri))
        # (%XX in the user: UpdateKVMHost writes a user with '@' so; libvirt decodes it too)
        return cls(parsed.hostname, user or default_user, port,
                   query.get("keyfile"), query.get("no_verify") not in ("1", "yes", "true"),
                   query.get("command"))

    @property
    def login(self):
        return f"{self.user}@{self.address}"

    @property
    def rsync_login(self):
        """The login as rsync's ``host:path`` wants it (an IPv6 address bracketed)."""
        return f"{self.user}@[{self.address}]" if ":" in self.address else self.login

    def options(self):
        """The options of every ssh to this host (also rsync's ``-e``)."""
        found = list(BASE_OPTIONS)
        if self.port:
            found += ["-p", str(self.port)]
        if self.keyfile:
            found += ["-i", self.keyfile]
        if not self.verify:
            found += ["-o", "StrictHostKeyChecking=no"]
        control = _control_dir()
        if control:
            found += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C",
                      "-o", f"ControlPersist={os.environ.get(PERSIST_ENV, '60')}"]
        return found

    def argv(self, command_text, shared=True):
        """ssh running ``command_text`` (one shell line) on the host; not ``shared``:
        on a login of its own, as a check that a login works must be."""
        own = [] if shared else ["-o", "ControlPath=none"]   # ssh keeps an option's first value
        return [self.program, *own, *self.options(), self.login, "--", command_text]

    def run(self, command_text, stdin=None, timeout=3600, shared=True):
        """(exit status, stdout, stderr) of ``command_text`` run there;
        ``stdin`` is a file object (or bytes) the command reads (None: nothing)."""
        return run_here(self.argv(command_text, shared), stdin, timeout)

    def start(self, command_text):
        """``command_text`` running there, talking through pipes (text lines)."""
        return subprocess.Popen(self.argv(command_text), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def run_here(argv, stdin=None, timeout=3600):
    """Run an argv on this machine: (exit status, stdout, stderr)."""
    data = stdin if isinstance(stdin, bytes) else None
    try:
        done = subprocess.run(argv, stdin=None if data is not None else
                              (stdin or subprocess.DEVNULL), input=data,
                              capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise StorageError(msg("{command} is not installed on this machine",
                               command=argv[0])) from None
    except subprocess.TimeoutExpired:
        raise StorageError(msg("{command} did not finish within {timeout} s",
                               command=argv[0], timeout=timeout)) from None
    except OSError as e:
        raise StorageError(msg("cannot run {command}: {error}", command=argv[0],
                               error=e.strerror)) from None
    return (done.returncode, done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"))
