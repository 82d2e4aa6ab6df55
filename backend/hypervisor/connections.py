"""Connections to libvirt hosts, cached per process and URI (opening one over
ssh costs a round of key exchange), reopened after a fork or when libvirt says
the connection is gone, and shared by threads (libvirt connections are
thread-safe; only the cache itself needs a lock). Also where a URI's daemon
is: ssh reachability, a local daemon's socket and pid.
"""

import contextlib
import os
import socket
import threading
import urllib.parse

import libvirt

from ..i18n import msg
from .errors import HostUnreachable

SSH_CONNECT_TIMEOUT = 10      # seconds; ssh itself waits minutes for a dead address

_POOL = {}                    # uri -> (pid, virConnect)
_POOL_LOCK = threading.Lock()


def describe(error):
    """A libvirtError (or any exception) as one line."""
    if isinstance(error, libvirt.libvirtError):
        text = error.get_error_message() or str(error)
    else:
        text = str(error) or type(error).__name__
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(lines)[:1000]


def is_connection_lost(error):
    """True when a libvirtError means the connection, not the operation, failed."""
    return (error.get_error_domain() == libvirt.VIR_FROM_RPC
            or error.get_error_code() in (libvirt.VIR_ERR_NO_CONNECT,
                                          libvirt.VIR_ERR_INVALID_CONN))


def close_all():
    """Close this process's cached connections (tests, daemon shutdown)."""
    with _POOL_LOCK:
        conns = list(_POOL.values())
        _POOL.clear()
    for pid, conn in conns:
        if pid == os.getpid():
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()


def acquire(uri):
    """This process's open connection to ``uri`` (opened, or reopened, if need be)."""
    with _POOL_LOCK:
        pid, conn = _POOL.get(uri, (None, None))
        if conn is not None and pid == os.getpid():
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            _POOL.pop(uri, None)
        conn = open_connection(uri)
        _POOL[uri] = (os.getpid(), conn)
        return conn


def forget(uri, conn):
    """Drop (and close) a connection found broken."""
    with _POOL_LOCK:
        if _POOL.get(uri, (None, None))[1] is conn:
            del _POOL[uri]
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()


def open_connection(uri):
    """libvirt.open that neither prompts nor hangs on a dead ssh address."""
    parsed = urllib.parse.urlsplit(uri)
    if "+ssh" in parsed.scheme:
        _probe_ssh(parsed)
        if "no_tty=" not in parsed.query:
            # ssh must never ask for a password on the user's terminal.
            uri += ("&" if parsed.query else "?") + "no_tty=1"
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as e:
        raise HostUnreachable(msg("cannot connect to {uri}: {error}",
                                  uri=uri, error=describe(e))) from None


def _probe_ssh(parsed):
    host, port = parsed.hostname, parsed.port or 22
    try:
        socket.create_connection((host, port), timeout=SSH_CONNECT_TIMEOUT).close()
    except OSError as e:
        raise HostUnreachable(msg("cannot connect to {host}:{port} (ssh): {error}",
                                  host=host, port=port, error=e.strerror or e)) from None


def _socket_of(uri):
    """The ``socket=`` of a local URI (qemu:///system?socket=/run/x/libvirt-sock)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    found = query.get("socket")
    return found[0] if found else None


def _daemon_pid(socket_path, uri):
    """The pid of the process listening on a unix socket (SO_PEERCRED)."""
    import struct

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(socket_path)
            pid, _, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
    except OSError as e:
        raise HostUnreachable(msg("cannot reach the libvirtd of {uri}: {error}",
                                  uri=uri, error=describe(e))) from None
    return pid


def _is_local_uri(uri):
    parsed = urllib.parse.urlsplit(uri)
    return not parsed.hostname and "+" not in parsed.scheme
