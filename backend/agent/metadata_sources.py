"""Where the metadata server finds what a VM may read (backend.agent.metadata_server):
the store, opened read-only for each request, on this machine's hosts; a
directory of documents, one per address, on a remote host, which has no store
(the cloud writes them there: services.flat_documents). Both give the same
dict (services.metadata.lookup's); a document's user-data is final already.
"""

import os
import sqlite3
import urllib.parse

from ..network.flat.documents import read as read_document  # noqa: F401 (the server's)

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
