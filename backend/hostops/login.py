"""How this machine comes to log in to a remote host by key: with the host's
password once, as ZStack's management node does when a host is added
(``AddKVMHost managementIp=... username=root password=...``).

A URI whose login already works as it is (the operator's own keys, agent or
``keyfile=``) is kept as it is. Otherwise this store's own key pair
(``$ZSTACK_HOME/ssh/id_ed25519``, made on first use) is appended to the
host's ``~/.ssh/authorized_keys`` over one ssh login with the password (given
to ssh through SSH_ASKPASS, never on a command line), and the URI gets
``keyfile=`` that key and ``command=`` an ssh wrapper that keeps the host keys
this store has seen in ``$ZSTACK_HOME/ssh/known_hosts``: a host's key is taken
the first time (as ZStack does) and a changed one is refused afterwards. The
same wrapper and key serve libvirt's connection and the host's agent.
"""

import os
import shlex
import subprocess
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..i18n import msg
from ..storage import StorageError
from ..storage.ssh import SshTarget, run_here

KEY = "id_ed25519"


def _ssh_dir(home):
    path = os.path.join(home, "ssh")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _key(home):
    """This store's key pair (private key path), made once: by one process at a
    time (a lock), in a directory of its own first, so nobody reads half a pair."""
    from ..storage.files import file_lock

    directory = _ssh_dir(home)
    key = os.path.join(directory, KEY)
    with file_lock(os.path.join(directory, ".lock")):
        if os.path.exists(key) and os.path.exists(key + ".pub"):
            return key
        import tempfile

        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            made = os.path.join(tmp, KEY)
            status, _, err = run_here(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                       "zstack-cli", "-f", made])
            if status != 0:
                raise StorageError(msg("cannot make an ssh key in {path}: {error}", path=key,
                                       error=err.strip() or status))
            os.replace(made + ".pub", key + ".pub")
            os.replace(made, key)
    return key


def _wrapper(home):
    """The ssh program of this store's logins: its own known hosts, first key kept."""
    directory = _ssh_dir(home)
    path = os.path.join(directory, "ssh")
    known = os.path.join(directory, "known_hosts")
    # ssh splits this option's value on blanks and expands % in it: quoted, %%.
    # The user's own file comes second: a host whose key it knows otherwise is
    # refused (a changed key), while new keys go to the first, this store's.
    files = " ".join('"' + f.replace("%", "%%") + '"'
                     for f in (known, os.path.expanduser("~/.ssh/known_hosts")))
    text = ("#!/bin/sh\n# zstack-cli: ssh with this store's known hosts (see backend/hostops/"
            f"login.py)\nexec ssh -o {shlex.quote('UserKnownHostsFile=' + files)} "
            "-o StrictHostKeyChecking=accept-new \"$@\"\n")
    try:
        with open(path) as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o700)
    os.replace(tmp, path)
    return path


def _with_params(uri, **params):
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    # %20 for a blank, never '+': libvirt decodes %XX only.
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()),
                                                      safe="/", quote_via=quote)))


def _works(uri):
    """Whether ``uri`` logs in: on a connection of its own (a shared one made with
    another key would answer for it, and libvirt's own login would then fail)."""
    return SshTarget.from_uri(uri).run("true", timeout=30, shared=False)


def key_refused(uri):
    """Whether the host answers but refuses this login (not: it is out of reach)."""
    status, _, err = _works(uri)
    return status != 0 and "permission denied" in err.lower()


def ensure_key_login(home, uri, password):
    """``uri``, or the same with this store's key and ssh wrapper, logging in to
    the host by key; StorageError when neither it nor the password lets us in."""
    status, _, err = _works(uri)
    if status == 0:
        return uri
    if _key_changed(err):
        # Never a password to a host whose key is not the one known for it.
        raise StorageError(msg("cannot log in to {uri}: {reason}", uri=uri,
                               reason=_last(err, status)))
    keyed = _with_params(uri, keyfile=_key(home), command=_wrapper(home))
    status, _, err = _works(keyed)
    if status == 0:
        return keyed
    if not password or _key_changed(err):
        raise StorageError(msg("cannot log in to {uri}: {reason}", uri=uri,
                               reason=_last(err, status)))
    _install_key(home, keyed, password)
    status, _, err = _works(keyed)
    if status != 0:
        raise StorageError(msg("cannot log in to {uri} with the key put there: {reason}",
                               uri=uri, reason=_last(err, status)))
    return keyed


def _install_key(home, uri, password):
    """Append the public key to the host's authorized_keys (once), logged in with
    the password: ssh reads it from SSH_ASKPASS, a script printing it from the
    environment of that one ssh process."""
    target = SshTarget.from_uri(uri)
    with open(_key(home) + ".pub") as f:
        public = f.read().strip()
    askpass = os.path.join(_ssh_dir(home), "askpass")
    if not os.path.exists(askpass):          # written whole, then renamed: never run half
        tmp = f"{askpass}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write('#!/bin/sh\nprintf \'%s\\n\' "$ZSTACK_SSH_PASSWORD"\n')
        os.chmod(tmp, 0o700)
        os.replace(tmp, askpass)
    # ssh takes the first value of an option: these come before the target's own.
    argv = [target.program, "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", *target.argv(_APPEND, shared=False)[1:]]
    env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force",
               ZSTACK_SSH_PASSWORD=password, DISPLAY=os.environ.get("DISPLAY", ":0"))
    try:
        done = subprocess.run(argv, input=public + "\n", capture_output=True, text=True,
                              env=env, timeout=60, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise StorageError(msg("{command} did not finish within {timeout} s",
                               command=target.program, timeout=60)) from None
    if done.returncode != 0:
        raise StorageError(msg("cannot log in to {address} as {user} with its password: "
                               "{reason}", address=target.address, user=target.user,
                               reason=_last(done.stderr, done.returncode)))


# Reads the key from stdin; adds it unless the file has that very line already.
# A file whose last line has no newline gets one first (else the key would join it).
_APPEND = ('umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && read -r key && '
           '{ grep -qxF "$key" ~/.ssh/authorized_keys || '
           '{ [ -z "$(tail -c 1 ~/.ssh/authorized_keys)" ] || echo >> ~/.ssh/authorized_keys; '
           'printf \'%s\\n\' "$key" >> ~/.ssh/authorized_keys; }; }')


def _key_changed(err):
    """ssh refused the host because its key is not the one known for it."""
    return "IDENTIFICATION HAS CHANGED" in err or "host key for" in err.lower() and \
        "has changed" in err.lower()


def _last(err, status):
    lines = [line for line in (err or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else msg("exit status {code}", code=status)
