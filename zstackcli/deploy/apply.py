"""Carry out a plan: one API call per step, a progress line per step on stderr,
and a summary (created / updated / unchanged, with uuids) at the end."""

import os
import subprocess
import sys

from backend.catalogue import APIS

from .. import status
from ..output import format_api_error, render, write_error
from ..progress import ProgressBar
from .plan import ApiFailure, param_naming
from .text import label, say


class LocalFailure(Exception):
    def __init__(self, path, message):
        super().__init__(message)
        self.path = path


class Deployer:
    def __init__(self, client, source, err=None):
        self.client = client
        self.source = source
        self.err = err or sys.stderr
        self.summary = {"created": [], "updated": [], "unchanged": []}
        self.done = []            # what was created, for people: "zone z1"

    # -- reporting --------------------------------------------------------------------
    def progress(self, state, what):
        verb = say({"create": "created", "update": "updated"}.get(state, "exists"))
        self.err.write(f"{verb.ljust(8)}{what}\n")
        self.err.flush()

    def record(self, state, item):
        key = {"create": "created", "update": "updated"}.get(state, "unchanged")
        self.summary[key].append(item)

    def call(self, api, params, path):
        bar = ProgressBar(self.err)           # an image download draws on a terminal only
        try:
            reply = self.client.call(api, params, bar)
        finally:
            bar.close()
        if not reply.get("success"):
            raise ApiFailure(api, reply.get("error") or {}, path)
        return reply

    # -- steps --------------------------------------------------------------------------
    def run(self, steps):
        """(exit status, error or None): 0; 3 when an API failed; 1 when an image file
        could not be made. The steps before the failure stay done."""
        step = None
        try:
            for step in steps:
                getattr(self, "do_" + step.what)(step)
        except ApiFailure as f:
            write_error(f"{self.source}: {f.path}: {format_api_error(f.api, f.error)}")
            self.stopped()
            return status.API_ERROR, f.error
        except LocalFailure as f:
            write_error(f"{self.source}: {f.path}: {f}")
            self.stopped()
            return status.CLI_ERROR, {"details": str(f)}
        except ValueError as e:               # e.g. a path the system refuses
            write_error(f"{self.source}: {step.path}: {e}")
            self.stopped()
            return status.CLI_ERROR, {"details": str(e)}
        return status.OK, None

    def stopped(self):
        if self.done:
            write_error(say("stopped", source=self.source, done=", ".join(self.done)))
        else:
            write_error(say("stopped_nothing", source=self.source))

    def do_entry(self, step):
        entry = step.entry
        what = f"{label(entry.kind)} {entry.name}"
        if entry.state == "create":
            if "create" in entry.extras:
                self.blank_image(entry)
            reply = self.call(entry.api, self.params_of(entry), entry.path)
            entry.uuid = reply["inventory"]["uuid"]
        elif entry.state == "update":
            update = entry.kind.update_api()
            self.call(update.name, dict(entry.changes, uuid=entry.uuid), entry.path)
            what += f" ({', '.join(entry.changes)})"
        self.progress(entry.state, what)
        if entry.state == "create":
            self.done.append(f"{label(entry.kind)} {entry.name}")
        item = {"kind": entry.kind.id, "name": entry.name, "uuid": entry.uuid,
                "path": entry.path}
        if entry.state == "update":
            item["changed"] = sorted(entry.changes)
        self.record(entry.state, item)

    def params_of(self, entry):
        params = dict(entry.params)
        if entry.parent is not None:
            params[entry.kind.parent[1]] = entry.parent.uuid
        for param, target in entry.targets.items():
            params[param] = ([t.uuid for t in target] if isinstance(target, list)
                             else target.uuid)
        tags = list(params.get("systemTags") or ()) + entry.tags
        for (name, _, _, value, _), target in zip(entry.tag_refs, entry.tag_targets):
            tags.append(f"{name}::{target.uuid}::{value}")
        if tags:
            params["systemTags"] = tags
        return params

    def do_attach(self, step):
        owner, target = step.entry, step.info["target"]
        owner_param, target_param = step.info["params"]
        if step.state == "create":
            self.call(step.info["api"], {owner_param: owner.uuid, target_param: target.uuid},
                      step.path)
        what = say("attachment", label=label(target.kind), name=target.name,
                   owner_label=label(owner.kind), owner=owner.name)
        self.progress(step.state, what)
        if step.state == "create":
            self.done.append(what)
        self.record(step.state, {"kind": "attachment", "path": step.path,
                                 "name": f"{target.kind.id} {target.name} -> "
                                         f"{owner.kind.id} {owner.name}",
                                 "uuid": target.uuid, "to": owner.uuid})

    def do_dns(self, step):
        l3, address = step.entry, step.info["dns"]
        if step.state == "create":
            api = "AddDnsToL3Network"
            value = next(p.name for p in APIS[api].params.values()
                         if p.required and p.resource is None)
            self.call(api, {param_naming(api, l3.kind.resource): l3.uuid, value: address},
                      step.path)
        what = say("dns", dns=address, name=l3.name)
        self.progress(step.state, what)
        if step.state == "create":
            self.done.append(what)
        self.record(step.state, {"kind": "dns", "name": address, "uuid": l3.uuid,
                                 "path": step.path})

    def do_services(self, step):
        l3 = step.entry
        if step.state == "create":
            api = "AttachNetworkServiceToL3Network"
            services = next(p.name for p in APIS[api].params.values() if p.type == "map")
            self.call(api, {param_naming(api, l3.kind.resource): l3.uuid,
                            services: step.info["services"]}, step.path)
        what = say("services", services=step.info["shown"], name=l3.name)
        self.progress(step.state, what)
        if step.state == "create":
            self.done.append(what)
        self.record(step.state, {"kind": "networkServices", "name": step.info["shown"],
                                 "uuid": l3.uuid, "path": step.path})

    def blank_image(self, entry):
        """``create: {size: 64M}``: an image file that is not there yet is made blank."""
        from .checks import local_path

        path = local_path(entry.params["url"])
        if path is None or os.path.exists(path):
            return
        if os.path.lexists(path):            # a dangling symlink: never write through it
            raise LocalFailure(f"{entry.path}.create", say("create_symlink", path=path))
        fmt, size = entry.params["format"], entry.extras["create"]
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            if fmt == "raw":
                with open(path, "xb") as f:
                    f.truncate(size)
            else:
                done = subprocess.run(["qemu-img", "create", "-f", "qcow2", path, str(size)],
                                      capture_output=True, text=True, timeout=60)
                if done.returncode != 0:
                    raise OSError(" ".join(done.stderr.split()) or "qemu-img failed")
        except (OSError, subprocess.SubprocessError) as e:
            raise LocalFailure(f"{entry.path}.create", say(
                "image_file_failed", path=path, reason=getattr(e, "strerror", None) or e)) \
                from None
        self.err.write(say("image_file", fmt=fmt, path=path, size=size) + "\n")


def summarise(summary, source, fmt, colour=False, error=None):
    """The stderr summary line, and the summary in the output format on stdout."""
    sys.stderr.write(say("summary", source=source, created=len(summary["created"]),
                         updated=len(summary["updated"]),
                         unchanged=len(summary["unchanged"])) + "\n")
    reply = dict(summary, success=error is None)
    if error is not None:
        reply["error"] = error
    if fmt in ("table", "text"):
        rows = [dict(result=key, **item) for key in ("created", "updated", "unchanged")
                for item in summary[key]]
        reply = {"inventories": [{k: r.get(k) for k in ("result", "kind", "name", "uuid",
                                                         "path")} for r in rows]}
    text = render(reply, fmt, colour=colour)
    sys.stdout.write(text + ("\n" if fmt == "json" else ""))
    sys.stdout.flush()
