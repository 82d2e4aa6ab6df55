"""The Flat provider's userdata/metadata server for one L3 network on one host (SPEC §9).

    python -m backend.agent.metadata_server --home H --host HOST_UUID --l3 L3_UUID \\
        --address 10.0.0.2 --address 169.254.169.254 [--port 80] [--password-port 8080]

The caller runs it inside the host's DHCP namespace of that L3 (``ip netns exec``)
and has given the namespace those addresses; this process only binds them. It
outlives the zstack-cli process that started it, ignores SIGHUP and stops on
SIGTERM or SIGINT.

Who asks is the TCP peer address of the connection — never a header — looked up
as a NIC address of the L3 whose VM runs on this host (``services.metadata``).
An address that is no such NIC gets 404 for everything. The store is opened
read-only (``file:...?mode=ro``) for every request, so tags created, updated or
deleted show on the next request with no restart.

Port 80 (``--port``), the layout of cloud-init's CloudStack and EC2 datasources,
under any version segment (``/latest``, ``/2009-04-04``, ``/1.0``...)::

    /                                   versions: 1.0, 2009-04-04, latest
    /<v>/                               meta-data, user-data (when there is some)
    /<v>/user-data                      userdata:: decoded, else a generated
                                        #cloud-config (sshkey::, rootPassword::), else 404
    /<v>/meta-data/                     the index, one key a line (below)
    /<v>/meta-data/<key>                a value, with no trailing newline
    /<v>/meta-data/public-keys          every key, one a line (what CloudStack reads)
    /<v>/meta-data/public-keys/         0=<name> per key (EC2's tree)
    /<v>/meta-data/public-keys/0/       openssh-key
    /<v>/meta-data/public-keys/0/openssh-key   the key
    /<v>/meta-data/placement/availability-zone the zone name (EC2)

    index keys: instance-id vm-id local-hostname hostname public-hostname local-ipv4
    public-ipv4 service-offering availability-zone [public-keys] placement/

``public-keys`` is listed as a leaf: cloud-init's index crawler then fetches it
whole (a string for one key, a list for several) for both datasources, while the
EC2 tree answers below ``public-keys/`` for clients that walk it.

Port 8080 (``--password-port``), CloudStack's virtual-router password server,
as its ``passwd_server_ip.py`` behaves: a GET with ``DomU_Request:
send_my_password`` answers the ``rootPassword::`` value, or ``saved_password``
when there is none or the VM already acknowledged that very password;
``DomU_Request: saved_password`` records the acknowledgement and answers
``saved_password``; anything else is 400 ``bad_request``. The router forgets a
password on the ack until a new one is saved; here "saved" is the tag getting a
new value, so after an ack the same password is not served again until the tag
changes (or the VM, or its address, does). Acknowledgements are kept as salted
SHA-256 fingerprints (never the password) in ``--state`` (default
``H/metadata/passwords-<host>-<l3>.json``) so a restarted server does not serve
them again either.

One line per request goes to stderr. No traceback reaches a client: an
unexpected failure is a 500 with a short body, and one line on stderr.
"""

import argparse
import datetime
import hashlib
import ipaddress
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .metadata_sources import ReadOnlyStore, read_document, user_data

DB_NAME = "zstack.db"          # backend.api.DB_NAME (not imported: keeps this process small)
VERSIONS = ("1.0", "2009-04-04", "latest")
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"


# ------------------------------------------------------------------ the service

class MetadataService:
    """Everything but the sockets: who asks, what they get, password acks.

    What a VM gets comes from the store (``home``), or on a remote host, which has
    no store, from ``documents``: a directory of ``<ip>.json`` files the cloud
    writes there (backend.hostops, services.flat), each what ``lookup`` gives
    with the user-data final (generated already when it is) and base64'd."""

    def __init__(self, home, host_uuid, l3_uuid, state_path=None, log=None, documents=None):
        self.home = home
        self.host_uuid = host_uuid
        self.l3_uuid = l3_uuid
        self.documents = documents
        self.db_path = os.path.join(home, DB_NAME) if home else None
        self.state_path = state_path or (
            os.path.join(os.path.dirname(os.path.abspath(documents)), "passwords.json")
            if documents else
            os.path.join(home, "metadata", f"passwords-{host_uuid}-{l3_uuid}.json"))
        self.log_stream = log or sys.stderr
        self._lock = threading.Lock()
        self._acks = self._load_acks()

    # -- who asks: the TCP peer. Unit tests replace this (loopback can not
    #    carry a VM's address); nothing in production reads a header for it.
    @staticmethod
    def source_ip(handler):
        return handler.client_address[0]

    def meta_for(self, ip):
        if self.documents:
            return read_document(self.documents, ip)
        from ..services import metadata

        store = ReadOnlyStore(self.db_path)
        try:
            store.conn.execute("BEGIN")           # one snapshot for the whole look-up
            try:
                return metadata.lookup(store, self.host_uuid, self.l3_uuid, ip)
            finally:
                store.conn.execute("COMMIT")
        finally:
            store.close()

    def check_store(self):
        """Raise if the store can not be read (checked once at start)."""
        if self.documents:
            if not os.path.isdir(self.documents):
                raise sqlite3.OperationalError(f"no directory {self.documents}")
            return
        store = ReadOnlyStore(self.db_path)
        try:
            store.rows("SELECT 1 FROM VmInstanceVO LIMIT 1")
        finally:
            store.close()

    def log(self, line):
        now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (python 3.9)
        stamp = now.isoformat(timespec="milliseconds")
        try:
            self.log_stream.write(f"{stamp} {line}\n")
            self.log_stream.flush()
        except (OSError, ValueError):
            pass

    # -- port 80
    def metadata_reply(self, path, meta):
        """(status, content type, body) for a GET of ``path`` by the VM ``meta``."""
        path = urllib.parse.urlsplit(path).path
        while "//" in path:
            path = path.replace("//", "/")
        trailing = path.endswith("/")
        segs = [s for s in path.split("/") if s]
        if not segs:
            return _text("\n".join(VERSIONS))
        if len(segs) == 1:
            names = ["meta-data"]
            if user_data(meta) is not None:
                names.append("user-data")
            return _text("\n".join(names))
        section, rest = segs[1], segs[2:]
        if section == "user-data" and not rest:
            data = user_data(meta)
            return (200, BINARY, data) if data is not None else _not_found()
        if section == "meta-data":
            return self._meta_data(meta, rest, trailing)
        return _not_found()

    def _meta_data(self, meta, segs, trailing):
        keys = meta["public_keys"]
        hostname = meta["local_hostname"]
        zone = meta["availability_zone"] or ""
        leaves = {
            "instance-id": meta["instance_id"],
            "vm-id": meta["vm_id"],
            "local-hostname": hostname,
            "hostname": hostname,
            "public-hostname": hostname,
            "local-ipv4": meta["ip"],
            "public-ipv4": meta["ip"],
            "service-offering": meta["service_offering"] or "",
            "availability-zone": zone,
        }
        if keys:
            leaves["public-keys"] = "\n".join(keys)
        if not segs:
            return _text("\n".join(list(leaves) + ["placement/"]))
        head, rest = segs[0], segs[1:]
        if head == "public-keys" and keys and (rest or trailing):
            return self._public_keys(keys, rest, trailing)
        if head == "placement":
            if not rest:
                return _text("availability-zone")
            if rest == ["availability-zone"]:
                return _text(zone)
            return _not_found()
        if head in leaves and not rest:
            return _text(leaves[head])
        return _not_found()

    @staticmethod
    def _public_keys(keys, rest, trailing):
        if not rest:
            return _text("\n".join(f"{i}={_key_name(k, i)}" for i, k in enumerate(keys)))
        if not rest[0].isdigit() or int(rest[0]) >= len(keys):
            return _not_found()
        key = keys[int(rest[0])]
        if len(rest) == 1:
            return _text("openssh-key")
        if rest[1:] == ["openssh-key"]:
            return _text(key)
        return _not_found()

    # -- port 8080
    def password_reply(self, request, meta):
        vm, ip, password = meta["instance_id"], meta["ip"], meta["root_password"]
        if request == "send_my_password":
            if not password or self._acked(vm, ip) == _fingerprint(vm, ip, password):
                return _text("saved_password")
            return _text(password)
        if request == "saved_password":
            if password:
                self._ack(vm, ip, _fingerprint(vm, ip, password))
            return _text("saved_password")
        return 400, TEXT, b"bad_request"

    def _acked(self, vm, ip):
        with self._lock:
            return self._acks.get(f"{vm}/{ip}")

    def _ack(self, vm, ip, fingerprint):
        with self._lock:
            if self._acks.get(f"{vm}/{ip}") == fingerprint:
                return
            self._acks[f"{vm}/{ip}"] = fingerprint
            snapshot = dict(self._acks)
        self._save_acks(snapshot)

    def _load_acks(self):
        try:
            with open(self.state_path) as f:
                data = json.load(f)
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_acks(self, acks):
        try:
            os.makedirs(os.path.dirname(self.state_path), mode=0o700, exist_ok=True)
            tmp = f"{self.state_path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump(acks, f)
            os.replace(tmp, self.state_path)
        except OSError as e:
            self.log(f"password acks not saved to {self.state_path}: {e}")


def _text(value):
    return 200, TEXT, str(value).encode("utf-8")


def _not_found():
    return 404, TEXT, b"not found\n"


def _key_name(key, index):
    """EC2 lists keys by name: the key's comment if it has one."""
    words = key.split(None, 2)
    name = words[2].strip() if len(words) == 3 else ""
    return name.replace("\n", " ") if name else f"key-{index}"


def _printable(line):
    """One log line whatever a client sent: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in line)


def _fingerprint(vm, ip, password):
    return hashlib.sha256(f"{vm}\0{ip}\0{password}".encode()).hexdigest()


# ------------------------------------------------------------------ HTTP

class _Handler(BaseHTTPRequestHandler):
    server_version = "zstack-metadata"
    sys_version = ""
    kind = "metadata"

    def do_GET(self):
        self._serve(body=True)

    def do_HEAD(self):
        self._serve(body=False)

    def _serve(self, body):
        service = self.server.service
        source, vm, error = "-", "-", ""
        try:
            source = service.source_ip(self) or "-"
            meta = service.meta_for(source)
            if meta is None:
                status, ctype, data = _not_found()
            else:
                vm = meta["instance_id"]
                status, ctype, data = self.reply(service, meta)
        except Exception as e:  # noqa: BLE001 -- the promise: no traceback to a client
            error = f" error={type(e).__name__}: {e}"
            status, ctype, data = 500, TEXT, b"internal error\n"
        # logged before the answer leaves, so a client that got it finds the line
        service.log(_printable(f"{self.kind} {source} \"{self.command} {self.path}\" {status} "
                               f"{len(data)} vm={vm}{self.note()}{error}"))
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
        except OSError:
            pass

    def reply(self, service, meta):
        raise NotImplementedError

    def note(self):
        return ""

    def log_request(self, code="-", size="-"):   # _serve logs its own line
        pass

    def log_message(self, fmt, *args):       # errors BaseHTTPRequestHandler reports itself
        self.server.service.log(_printable(f"{self.kind} {self.client_address[0]} {fmt % args}"))


class MetadataHandler(_Handler):
    kind = "metadata"

    def reply(self, service, meta):
        return service.metadata_reply(self.path, meta)


class PasswordHandler(_Handler):
    kind = "password"

    def reply(self, service, meta):
        request = (self.headers.get("DomU_Request") or "").strip()
        return service.password_reply(request, meta)

    def note(self):
        request = (self.headers.get("DomU_Request") or "").strip()
        return " DomU_Request=" + ("".join(c for c in request[:40] if c.isprintable() and c != " ")
                                   or "-")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, service):
        self.address_family = (socket.AF_INET6 if ipaddress.ip_address(address[0]).version == 6
                               else socket.AF_INET)
        self.service = service
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        kind, value = sys.exc_info()[:2]
        self.service.log(f"connection from {client_address[0]} failed: "
                         f"{getattr(kind, '__name__', kind)}: {value}")


class Running:
    """Servers started by ``start``: their bound (address, port) and ``stop()``."""

    def __init__(self, servers):
        self.servers = servers
        self.threads = []
        for server in servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"serve-{server.server_address[1]}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def bound(self, handler=None):
        return [s.server_address[:2] for s in self.servers
                if handler is None or s.RequestHandlerClass is handler]

    def stop(self):
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in self.servers]
        for thread in stoppers:           # each waits for its loop's poll: all at once
            thread.start()
        for thread in stoppers:
            thread.join()
        for server in self.servers:
            server.server_close()


def start(service, addresses, port=80, password_port=8080):
    """Bind every address on both ports and serve; OSError (with ``.where``)
    when one can not be bound, after closing what was bound."""
    servers = []
    for address in addresses:
        for number, handler in ((port, MetadataHandler), (password_port, PasswordHandler)):
            try:
                servers.append(_Server((address, number), handler, service))
            except OSError as e:
                for server in servers:
                    server.server_close()
                e.where = f"{address}:{number}"
                raise
    return Running(servers)


# ------------------------------------------------------------------ the process

def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m backend.agent.metadata_server",
                                     description="userdata/metadata server of the Flat provider")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--home", help="$ZSTACK_HOME holding zstack.db")
    source.add_argument("--documents", help="a directory of <ip>.json metadata documents "
                                            "(a remote host's, written by the cloud)")
    parser.add_argument("--host", required=True, help="uuid of this host")
    parser.add_argument("--l3", required=True, help="uuid of the L3 network")
    parser.add_argument("--address", action="append", required=True,
                        help="an address to listen on (repeat)")
    parser.add_argument("--port", type=int, default=80, help="metadata port (80)")
    parser.add_argument("--password-port", type=int, default=8080,
                        help="password server port (8080)")
    parser.add_argument("--state", help="password acknowledgements file")
    args = parser.parse_args(argv)
    for address in args.address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            parser.error(f"not an IP address: {address}")
    return args


def main(argv=None):
    args = _parse(argv)
    service = MetadataService(args.home, args.host, args.l3, state_path=args.state,
                              documents=args.documents)
    try:
        service.check_store()
    except sqlite3.Error as e:
        print(f"metadata_server: can not read {service.db_path or args.documents}: {e}",
              file=sys.stderr)
        return 1
    try:
        running = start(service, args.address, args.port, args.password_port)
    except OSError as e:
        print(f"metadata_server: can not listen on {getattr(e, 'where', '?')}: "
              f"{e.strerror or e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    service.log("listening on " + " ".join(f"{a}:{p}" for a, p in running.bound())
                + f" for l3 {args.l3} on host {args.host} (pid {os.getpid()})")
    while not stop.wait(1):
        pass
    running.stop()
    service.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
