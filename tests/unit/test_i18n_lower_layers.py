"""The lower layers' errors (storage, hypervisor, network) carry messages: their
text is English for logs and callers, and an API error that embeds one is
shown wholly in the reply's language, the words of libvirt and the operating
system left as they come (SPEC §13)."""

from pathlib import Path

from backend.hypervisor import HostUnreachable
from backend.i18n import msg
from backend.storage import StorageError


def test_str_and_message_stay_english_whatever_the_language(monkeypatch):
    monkeypatch.setenv("ZSTACK_LANG", "zh")
    e = HostUnreachable(msg("cannot connect to {uri}: {error}", uri="qemu:///x",
                            error="Connection refused"))
    assert str(e) == e.message == "cannot connect to qemu:///x: Connection refused"
    assert e.render() == "无法连接到 qemu:///x：Connection refused"
    assert StorageError("plain text from a library").render("zh") == "plain text from a library"


def test_a_storage_error_is_one_line_in_either_language():
    e = StorageError(msg("qemu-img failed to {what}: {reason}", what=msg("read {path}", path="/a"),
                         reason="first\nsecond\n"))
    assert e.message == "qemu-img failed to read /a: first second"
    assert e.render("zh") == "qemu-img 读取 /a失败：first second"
    assert StorageError("\n").render("zh") == "存储操作失败"
    assert StorageError("\n").message == "storage operation failed"


def _setup(backend, tmp_path):
    def ok(api, **params):
        reply = backend.call(api, params)
        assert reply["success"], reply
        return reply.get("inventory", reply)

    zone = ok("CreateZone", name="z")["uuid"]
    bs = ok("AddSftpBackupStorage", name="bs", url=str(tmp_path / "bs"), hostname="127.0.0.1",
            username="root", password="password")["uuid"]
    ok("AttachBackupStorageToZone", backupStorageUuid=bs, zoneUuid=zone)
    cluster = ok("CreateCluster", name="c", zoneUuid=zone, hypervisorType="KVM")["uuid"]
    host = ok("AddKVMHost", name="h", clusterUuid=cluster, managementIp="127.0.0.1",
              username="root", password="password", libvirtUri="test:///default")["uuid"]
    return bs, host


def test_lower_layer_failures_render_fully_in_the_reply_language(backend, tmp_path, monkeypatch):
    from backend.services.hosts import driver

    bs, host = _setup(backend, tmp_path)
    missing = str(tmp_path / "missing.qcow2")
    add_image = {"name": "i", "format": "qcow2", "url": missing, "backupStorageUuids": [bs]}
    # A simulated host whose node file is broken: libxml2's words stay as they are.
    directory = str(Path(backend.home) / "hosts" / host)
    Path(driver(backend, backend.store.get("HostVO", host)).state_file).write_text("<node>x")
    where = f"host[uuid:{host}, managementIp:127.0.0.1]"

    monkeypatch.setenv("ZSTACK_LANG", "en")
    image = backend.call("AddImage", add_image)["error"]
    assert image["details"] == f"failed to add image[i] from {missing}: file not found: {missing}"
    reconnect = backend.call("ReconnectHost", {"uuid": host})["error"]["details"]
    prefix = (f"failed to connect to {where} through test:///default: cannot connect: "
              f"simulated host {directory} is unusable: {directory}/host.xml:1: ")
    assert reconnect.startswith(prefix), reconnect
    libxml = reconnect[len(prefix):]

    monkeypatch.setenv("ZSTACK_LANG", "zh")
    image = backend.call("AddImage", add_image)["error"]
    assert (image["description"], image["details"]) == \
        ("操作失败", f"从 {missing} 添加镜像[i]失败：找不到文件：{missing}")
    reconnect = backend.call("ReconnectHost", {"uuid": host})["error"]["details"]
    assert reconnect == (f"通过 test:///default 连接物理机[uuid:{host}, managementIp:127.0.0.1]"
                         f"失败：无法连接：模拟物理机 {directory} 不可用：{directory}/host.xml:1: "
                         f"{libxml}")
