"""Where the metadata server finds what a VM may read (backend.agent.metadata_server):
the store, opened read-only for each request, on this machine's hosts; a
directory of documents, one per address, on a remote host, which has no store
(the cloud writes them there: services.flat_documents). Both give the same
dict (services.metadata.lookup's); a document's user-data is final already.
"""

import base64
import ipaddress
import json
import os
import sqlite3
import urllib.parse

BUSY_TIMEOUT_MS = 10_000


class ReadOnlyStore:
    """One read-only connection, for one request: ``rows`` as ``Store.rows``."""

    def __init__(self, path):
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                    isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA query_only = 1")

    def rows(self, sql, args=()):
        return self.conn.execute(sql, args).fetchall()

    def close(self):
        self.conn.close()


def user_data(meta):
    """What /user-data answers: a document's final user-data as it is, else the
    VM's, or the #cloud-config generated for its keys and password."""
    if meta.get("final"):
        return meta.get("user_data")
    from ..services import metadata

    return metadata.user_data_or_generated(meta)


def read_document(directory, ip):
    """The metadata document of the VM with ``ip``, or None."""
    try:
        name = str(ipaddress.ip_address(ip))
    except ValueError:
        return None
    try:
        with open(os.path.join(directory, name + ".json"), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    encoded = doc.pop("user_data_b64", None)
    doc["user_data"] = base64.b64decode(encoded) if encoded else None
    doc["final"] = True
    return doc


def document(meta, final_user_data):
    """``meta`` (lookup's) as read_document reads it back: JSON, user-data base64."""
    doc = {k: v for k, v in meta.items() if k != "user_data"}
    doc["user_data_b64"] = (base64.b64encode(final_user_data).decode()
                            if final_user_data is not None else None)
    return doc
