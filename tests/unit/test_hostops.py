"""A host's operations (backend.hostops): the same HostOps code run here for a
host this machine reaches and, for a remote host, by the agent that travels
to it over ssh. Here the 'remote host' runs the agent's command lines on this
machine (sh -c in a directory standing for the login's home), so the whole
path is real but ssh: the bundle copied on first use, base64 JSON arguments,
the image streamed on stdin, replies and errors as JSON."""

import hashlib
import os
import subprocess
import time

import pytest

from backend.hostops import bundle, for_host, is_remote
from backend.hostops.ops import OPERATIONS, HostOps
from backend.hostops.remote import RemoteHostOps
from backend.i18n import dump_text, load_text, msg
from backend.storage import StorageError, layout
from backend.storage.ssh import SshTarget


class HereTarget(SshTarget):
    """A 'remote host' whose commands run here, from ``home``."""

    def __init__(self, home):
        super().__init__("192.0.2.7")
        self.home = home
        self.lines = []

    def argv(self, command_text):
        return ["sh", "-c", command_text]

    def run(self, command_text, stdin=None, timeout=3600):
        self.lines.append(command_text)
        data = stdin if isinstance(stdin, bytes) else None
        done = subprocess.run(self.argv(command_text), cwd=self.home, input=data,
                              stdin=None if data is not None else (stdin or subprocess.DEVNULL),
                              capture_output=True, timeout=timeout)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    def start(self, command_text):
        self.lines.append(command_text)
        return subprocess.Popen(self.argv(command_text), cwd=self.home, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def qcow2(path, size="16M"):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)


@pytest.fixture
def remote(tmp_path):
    from backend.hostops import remote as remote_module

    home = tmp_path / "home"
    home.mkdir()
    target = HereTarget(str(home))
    yield RemoteHostOps(target), target, home
    remote_module._end_sessions()          # each test's 'host' is a new one


def test_uris_say_which_hosts_are_remote():
    assert is_remote("qemu+ssh://root@10.0.0.5/system")
    assert is_remote("qemu+tcp://10.0.0.5/system")
    assert not is_remote("qemu:///system") and not is_remote("test:///default")
    assert not is_remote("qemu:///system?socket=/run/x/libvirt-sock")
    assert isinstance(for_host("qemu:///system", None), HostOps)
    assert isinstance(for_host("qemu+ssh://10.0.0.5/system", None), RemoteHostOps)


def test_the_login_comes_from_the_libvirt_uri():
    t = SshTarget.from_uri("qemu+ssh://admin@10.0.0.5:2222/system?keyfile=/k/id&no_verify=1"
                           "&command=/opt/ssh")
    assert (t.login, t.port, t.keyfile, t.verify, t.program) == \
        ("admin@10.0.0.5", 2222, "/k/id", False, "/opt/ssh")
    argv = t.argv("true")
    assert argv[0] == "/opt/ssh" and argv[-3:] == ["admin@10.0.0.5", "--", "true"]
    assert ["-p", "2222"] == argv[argv.index("-p"):argv.index("-p") + 2]
    assert "StrictHostKeyChecking=no" in argv and "BatchMode=yes" in argv
    assert SshTarget.from_uri("qemu+ssh://ad%40corp@10.0.0.7/system").user == "ad@corp"
    with pytest.raises(StorageError):
        SshTarget.from_uri("qemu+ssh://%2Dx@10.0.0.7/system")    # an option, encoded
    plain = SshTarget.from_uri("qemu+ssh://10.0.0.6/system", default_user="ops")
    assert plain.login == "ops@10.0.0.6" and "-p" not in plain.argv("true") \
        and "StrictHostKeyChecking=no" not in plain.argv("true")
    with pytest.raises(StorageError, match="port of"):
        SshTarget.from_uri("qemu+ssh://10.0.0.6:ssh/system")


def test_messages_cross_processes_and_render_in_the_callers_language():
    inner = StorageError(msg("file not found: {path}", path="/x"))
    text = msg("cannot delete {path}: {error}", path="/y", error=inner)
    back = load_text(dump_text(text))
    assert back.render("en") == text.render("en") == "cannot delete /y: file not found: /x"
    assert back.render("zh") == text.render("zh") != back.render("en")
    assert load_text("plain") == "plain" and dump_text(object()).startswith("<object")


def test_the_bundle_is_stable_and_named_by_its_content():
    name, data = bundle.build()
    assert name.startswith("agent-") and name.endswith(".pyz")
    assert bundle.build() == (name, data)
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "__main__.py" in names and "backend/storage/local.py" in names \
        and "backend/hostops/ops.py" in names and "backend/network/bridge.py" in names
    assert not any(n.startswith(("backend/store", "backend/services")) for n in names)


def test_a_remote_host_gets_the_agent_once_and_runs_the_same_operations(remote, tmp_path):
    ops, target, home = remote
    root = str(tmp_path / "ps")          # the host's storage root (its own path)
    total, available = ops.prepare_root(root)
    assert os.path.isdir(root) and total >= available > 0
    name, _ = bundle.build()
    assert (home / ".zstack-cli" / name).is_file()
    assert len([line for line in target.lines if "cat >" in line]) == 1   # copied once

    image = tmp_path / "backup" / "image.qcow2"
    image.parent.mkdir()
    qcow2(image)
    md5 = hashlib.md5(image.read_bytes()).hexdigest()
    ops.ensure_image_cache(root, "img1", "qcow2", str(image), md5)
    cache = layout.image_cache_path(root, "img1", "qcow2")
    assert open(cache, "rb").read() == image.read_bytes()

    allocated = ops.create_root_volume(root, "vm1", "vol1", cache, 32 << 20)
    volume = layout.root_volume_path(root, "vm1", "vol1")
    assert allocated > 0 and os.path.exists(volume)
    size = ops.snapshot(volume, layout.snapshot_path(root, "vol1", "s1"))
    assert size > 0 and os.path.exists(layout.snapshot_path(root, "vol1", "s1"))
    ops.delete_snapshot(volume, layout.snapshot_path(root, "vol1", "s1"))
    assert not os.path.exists(layout.snapshot_path(root, "vol1", "s1"))
    data = layout.data_volume_path(root, "d1")
    assert ops.create_empty_volume(data, 8 << 20) > 0
    ops.delete_volume(data)
    assert not os.path.exists(data)
    assert len([line for line in target.lines if "cat >" in line]) == 1


def test_a_damaged_image_is_refused_there_in_the_callers_language(remote, tmp_path,
                                                                   monkeypatch):
    ops, _, _ = remote
    image = tmp_path / "image.qcow2"
    qcow2(image)
    with pytest.raises(StorageError) as caught:
        ops.ensure_image_cache(str(tmp_path / "ps"), "img1", "qcow2", str(image), "0" * 32)
    assert "is damaged: md5" in caught.value.render("en")
    assert "md5" in caught.value.render("zh") and caught.value.render("zh") != \
        caught.value.render("en")
    assert not os.path.exists(layout.image_cache_path(str(tmp_path / "ps"), "img1", "qcow2"))


def test_failures_are_one_line_errors_naming_the_host(remote, tmp_path):
    ops, target, home = remote
    with pytest.raises(StorageError, match="image not found"):
        ops.create_root_volume(str(tmp_path), "vm", "vol", str(tmp_path / "none.qcow2"))
    with pytest.raises(AttributeError):
        ops.not_an_operation
    assert "create_root_volume" in OPERATIONS and "prepare_root" in OPERATIONS

    class Unreachable(HereTarget):
        def argv(self, command_text):
            return ["sh", "-c", "echo 'ssh: connect to host 192.0.2.9 port 22: No route to "
                    "host' >&2; exit 255"]
    gone = RemoteHostOps(Unreachable(str(home)))
    gone.target.address = "192.0.2.9"           # another host: no session of its own yet
    with pytest.raises(StorageError, match="the host agent on 192.0.2.9 failed to "
                                           "delete_volume: ssh: connect to host"):
        gone.delete_volume("/x")

    class NoPython(HereTarget):
        def argv(self, command_text):
            return ["sh", "-c", command_text.replace("exec python3", "exec python3-missing")]
    no_python = NoPython(str(home))
    no_python.address = "192.0.2.10"
    with pytest.raises(StorageError, match="failed to delete_volume: .*not found"):
        RemoteHostOps(no_python).delete_volume("/x")


def test_the_agent_answers_an_unknown_operation_with_an_error(tmp_path):
    name, data = bundle.build()
    agent = tmp_path / name
    agent.write_bytes(data)
    out = subprocess.run(["python3", str(agent), "format_disk", "W10="], capture_output=True,
                         text=True)
    assert out.returncode == 0 and '"error"' in out.stdout and "format_disk" in out.stdout
    bad = subprocess.run(["python3", str(agent)], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr and "Traceback" not in bad.stderr


def test_logins_to_a_host_share_one_connection_in_a_private_directory(monkeypatch, tmp_path):
    import stat

    from backend.storage import ssh

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    monkeypatch.delenv(ssh.PERSIST_ENV, raising=False)
    argv = SshTarget("10.0.0.5").argv("true")
    control = tmp_path / f"zstack-cli-ssh-{os.getuid()}"
    assert f"ControlPath={control}/%C" in argv and "ControlPersist=60" in argv
    assert stat.S_IMODE(control.stat().st_mode) == 0o700
    control.chmod(0o755)                     # open to others: not used
    assert not any(a.startswith("ControlPath") for a in SshTarget("10.0.0.5").argv("true"))
    control.chmod(0o700)
    monkeypatch.setenv(ssh.PERSIST_ENV, "0")
    assert not any(a.startswith("ControlPath") for a in SshTarget("10.0.0.5").argv("true"))
    monkeypatch.setenv(ssh.PERSIST_ENV, "15")
    assert "ControlPersist=15" in SshTarget("10.0.0.5").argv("true")


def test_one_session_carries_a_processes_operations(remote, tmp_path):
    ops, target, _ = remote
    root = str(tmp_path / "ps")
    ops.prepare_root(root)
    for n in range(5):
        ops.create_empty_volume(layout.data_volume_path(root, f"d{n}"), 1 << 20)
    served = [line for line in target.lines if line.endswith(" serve")]
    assert len(served) == 2          # the first found no agent (97), the second one serves
    assert len([line for line in target.lines if "cat >" in line]) == 1
    assert len(os.listdir(os.path.join(root, "dataVolumes"))) == 5


def test_big_arguments_go_on_stdin(remote, tmp_path):
    """Without a session (a host whose sessions fail), arguments bigger than one
    command-line argument may be (128 KiB) still reach the agent."""
    ops, target, home = remote

    class NoSessions(HereTarget):
        def start(self, command_text):
            return subprocess.Popen(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
    lonely = RemoteHostOps(NoSessions(str(home)))
    entries = [{"mac": f"fa:00:00:00:{n // 256:02x}:{n % 256:02x}", "ip": f"10.0.{n // 250}."
                f"{n % 250 + 2}", "hostname": f"vm-{n:05d}-" + "x" * 60, "default": True}
               for n in range(3000)]
    from backend.network.flat import FlatNetworkError

    with pytest.raises(FlatNetworkError) as caught:    # a bad endpoint: refused, but read
        lonely.flat_serve({"state_dir": "relative"}, entries, None)
    assert "Argument list too long" not in caught.value.render("en")


def test_an_agent_copy_cut_short_is_never_installed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()

    class CutShort(HereTarget):
        def run(self, command_text, stdin=None, timeout=3600):
            if "cat >" in command_text:
                stdin = __import__("io").BytesIO(stdin.read()[:5000])
                data = stdin.read()
                return super().run(command_text, data, timeout)
            return super().run(command_text, stdin, timeout)
    ops = RemoteHostOps(CutShort(str(home)))
    with pytest.raises(StorageError, match="cannot install the host agent.*damaged"):
        ops.deploy()
    assert os.listdir(home / ".zstack-cli") == []


def test_two_processes_install_the_agent_at_once(tmp_path):
    import threading

    home = tmp_path / "home"
    home.mkdir()
    errors = []

    def install():
        try:
            RemoteHostOps(HereTarget(str(home))).deploy()
        except StorageError as e:
            errors.append(e)
    threads = [threading.Thread(target=install) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    name, data = bundle.build()
    assert not errors and os.listdir(home / ".zstack-cli") == [name]
    assert (home / ".zstack-cli" / name).read_bytes() == data


def test_other_versions_agents_go_when_old_and_unused(tmp_path):
    home = tmp_path / "home"
    agents = home / ".zstack-cli"
    agents.mkdir(parents=True)
    week_ago = time.time() - 8 * 86400
    old, running = "agent-0123456789abcdef.pyz", "agent-00112233445566ff.pyz"
    for name in (old, running, ".agent-0123456789abcdef.pyz.77.part"):
        (agents / name).write_bytes(b"old")
        os.utime(agents / name, (week_ago, week_ago))
    (agents / "agent-fedcba9876543210.pyz").write_bytes(b"another version, recent")
    (agents / "notes.txt").write_text("not ours")
    # A process runs from one of the old ones (a metadata server of an older version).
    user = subprocess.Popen(["sh", "-c", "sleep 30", f".zstack-cli/{running}"])
    try:
        RemoteHostOps(HereTarget(str(home))).deploy()
    finally:
        user.kill()
        user.wait()
    name, _ = bundle.build()
    assert sorted(os.listdir(agents)) == sorted([name, running, "agent-fedcba9876543210.pyz",
                                                 "notes.txt"])


def test_an_agent_that_can_not_be_installed_says_why(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".zstack-cli").write_text("a file where the directory should be")
    with pytest.raises(StorageError, match="cannot install the host agent on 192.0.2.7: mkdir"):
        RemoteHostOps(HereTarget(str(home))).deploy()


def test_a_remote_hosts_default_uri_and_key_parameters():
    from urllib.parse import parse_qs, urlsplit

    from backend.hostops.login import _with_params
    from backend.hypervisor import default_uri

    assert default_uri("10.0.0.5") == "qemu+ssh://root@10.0.0.5/system"
    assert default_uri("10.0.0.5", "admin", 2222) == "qemu+ssh://admin@10.0.0.5:2222/system"
    assert default_uri("fd00::5", "root", 22) == "qemu+ssh://root@[fd00::5]/system"
    uri = _with_params("qemu+ssh://root@10.0.0.5/system?no_tty=1&keyfile=/old",
                       keyfile="/home/z/ssh/id_ed25519", command="/home/z/ssh/ssh")
    query = parse_qs(urlsplit(uri).query)
    assert query == {"no_tty": ["1"], "keyfile": ["/home/z/ssh/id_ed25519"],
                     "command": ["/home/z/ssh/ssh"]}
    target = SshTarget.from_uri(uri)
    assert (target.keyfile, target.program) == ("/home/z/ssh/id_ed25519", "/home/z/ssh/ssh")
    own = target.argv("true", shared=False)
    assert own[1:3] == ["-o", "ControlPath=none"]


def test_a_host_without_qemu_img_is_refused_when_its_storage_is_prepared(tmp_path,
                                                                           monkeypatch):
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "qemu-img"
                        else real_which(name))
    with pytest.raises(StorageError, match="qemu-img is not installed on the host"):
        HostOps().prepare_root(str(tmp_path / "ps"))
    assert not (tmp_path / "ps").exists()


def test_the_store_key_is_made_once_by_concurrent_processes(tmp_path):
    import multiprocessing

    from backend.hostops import login

    home = str(tmp_path / "home with space")
    with multiprocessing.get_context("fork").Pool(6) as pool:
        keys = pool.map(login._key, [home] * 6)
    assert set(keys) == {os.path.join(home, "ssh", login.KEY)}
    public = open(keys[0] + ".pub").read()
    assert public.startswith("ssh-ed25519 ") and os.stat(keys[0]).st_mode & 0o077 == 0
    assert sorted(os.listdir(os.path.join(home, "ssh"))) == [".lock", login.KEY,
                                                              login.KEY + ".pub"]


def test_the_keyed_uri_and_wrapper_survive_blanks_and_percent(tmp_path):
    from urllib.parse import unquote

    from backend.hostops import login

    home = str(tmp_path / "my home %d")
    uri = login._with_params("qemu+ssh://root@10.0.0.5/system", keyfile=login._key(home),
                             command=login._wrapper(home))
    assert "+" not in uri.split("?", 1)[1] and "%20" in uri     # libvirt decodes %XX only
    assert SshTarget.from_uri(uri).keyfile == login._key(home)
    assert unquote(uri.split("keyfile=")[1].split("&")[0]) == login._key(home)
    # ssh reads the wrapper's known-hosts option as the files meant: quoted, % doubled.
    out = subprocess.run([login._wrapper(home), "-G", "10.0.0.5"], capture_output=True,
                         text=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("userknownhostsfile "))
    assert os.path.join(home, "ssh", "known_hosts").replace(" ", "") in line.replace(" ", "")


def test_a_key_is_appended_on_a_line_of_its_own_once(tmp_path):
    from backend.hostops import login

    (tmp_path / ".ssh").mkdir()
    keys = tmp_path / ".ssh" / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAAother other@host")          # no newline at the end
    for _ in range(2):
        subprocess.run(["sh", "-c", login._APPEND], input="ssh-ed25519 AAAAmine zstack-cli\n",
                       text=True, check=True, env=dict(os.environ, HOME=str(tmp_path)))
    assert keys.read_text().splitlines() == ["ssh-ed25519 AAAAother other@host",
                                             "ssh-ed25519 AAAAmine zstack-cli"]
