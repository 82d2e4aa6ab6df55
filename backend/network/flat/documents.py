"""The metadata documents a remote host's metadata server answers from (SPEC §9).

A remote host has no records, so the cloud writes there, per address of a VM
the host serves, what that VM may read: ``<ip>.json`` in the directory of its
server (services.flat_documents decides what and when; backend.hostops runs
``write`` on the host; backend.agent.metadata_server ``read``s them per request).
A document is services.metadata.lookup's dict with the user-data final (the
#cloud-config generated already when there is one) and base64'd.
"""

import base64
import ipaddress
import json
import os


def document(meta, final_user_data):
    """``meta`` as ``read`` gives it back: JSON, the user-data base64."""
    doc = {k: v for k, v in meta.items() if k != "user_data"}
    doc["user_data_b64"] = (base64.b64encode(final_user_data).decode()
                            if final_user_data is not None else None)
    return doc


def read(directory, ip):
    """The document of the VM with ``ip``, marked final, or None."""
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


def write(directory, docs, drop=None):
    """Write ``docs`` ({ip: document}) and remove those of the addresses in
    ``drop``, or with ``drop`` None every other one. Each is written whole under
    a temporary name and renamed: a request never reads half of one. Private
    (0600, in a 0700 directory): user-data and passwords are in them."""
    from ...storage.files import discard, publish, temp_path

    os.makedirs(directory, mode=0o700, exist_ok=True)
    names = {f"{ip}.json" for ip in docs}
    for ip, doc in docs.items():
        final = os.path.join(directory, f"{ip}.json")
        tmp = temp_path(final)
        try:
            os.chmod(tmp, 0o600)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            publish(tmp, final)
        except BaseException:
            discard(tmp)
            raise
    gone = ({f"{ip}.json" for ip in drop} if drop is not None else
            {n for n in os.listdir(directory) if n.endswith(".json")})
    for name in gone - names:
        discard(os.path.join(directory, name))
