"""Storage primitives on real files: qemu-img wrappers, backup storage imports
(path, file://, http://), local primary storage caches, volumes and snapshots
(SPEC §7 backup storage, images, local primary storage; §11 what volume
migration relies on: chains that can be merged and moved, checksums)."""
import functools
import hashlib
import http.server
import multiprocessing
import os
import shutil
import subprocess
import threading
import time

import pytest

from backend.storage import StorageError, files, image_store, layout, local, qemu_img, templates

MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
needs_qemu_io = pytest.mark.skipif(shutil.which("qemu-io") is None, reason="needs qemu-io")


# -- helpers -----------------------------------------------------------------

def write(path, offset, length, pattern, fmt="qcow2"):
    """Write ``pattern`` bytes into the guest view of an image (through its chain)."""
    subprocess.run(["qemu-io", "-f", fmt, "-c", f"write -P {pattern} {offset} {length}", str(path)],
                   check=True, capture_output=True)


def content(path, tmp_path):
    """The guest-visible bytes of an image, whole chain folded in."""
    out = tmp_path / f"view-{time.monotonic_ns()}.raw"
    qemu_img.convert(str(path), str(out), "raw")
    data = out.read_bytes()
    out.unlink()
    return data


def digest(path, name):
    return hashlib.new(name, open(path, "rb").read()).hexdigest()


def leftovers(directory):
    """Every file under ``directory`` (to prove a failure left nothing)."""
    found = []
    for base, _dirs, names in os.walk(directory):
        found += [os.path.join(base, f) for f in names]
    return found


@pytest.fixture
def qcow2(tmp_path):
    """A 4 MiB qcow2 image with 1 MiB of 0x11 at offset 0."""
    path = tmp_path / "src" / "disk.qcow2"
    qemu_img.create(str(path), 4 * MiB)
    if shutil.which("qemu-io"):
        write(path, 0, MiB, 0x11)
    return path


@pytest.fixture
def raw_file(tmp_path):
    path = tmp_path / "src" / "disk.raw"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(2 * MiB))
    return path


def fake_iso(path, magic=True):
    data = bytearray(3 * MiB)
    if magic:
        data[0x8001:0x8006] = b"CD001"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(bytes(data))
    return path


# -- an http server for downloads ----------------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; /redirect/x answers 302 to /x; /broken/x promises
    the whole file and hangs up halfway through."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/broken/"):
            data = open(os.path.join(self.directory, self.path[len("/broken/"):]), "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_dir(tmp_path):
    """(served directory, base url) of a server on a free port of 127.0.0.1."""
    served = tmp_path / "www"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- qemu-img ------------------------------------------------------------------

def test_create_and_info(tmp_path):
    path = tmp_path / "a" / "b" / "v.qcow2"          # parents are created
    assert qemu_img.create(str(path), 4 * MiB) == str(path)
    found = qemu_img.info(str(path))
    assert found["format"] == "qcow2"
    assert found["virtualSize"] == 4 * MiB
    assert found["actualSize"] > 0
    assert found["backingFile"] is None and found["backingChain"] == []
    assert leftovers(path.parent) == [str(path)]     # no temporary file stays behind

    raw = qemu_img.create(str(tmp_path / "r.raw"), MiB, fmt="raw")
    assert qemu_img.info(raw)["format"] == "raw"
    assert os.path.getsize(raw) == MiB


def test_overlay_chain_and_snapshot_overlay(tmp_path, qcow2):
    mid = qemu_img.create(str(tmp_path / "mid.qcow2"), None, backing=str(qcow2))
    top = qemu_img.snapshot_overlay(mid, str(tmp_path / "top.qcow2"))
    found = qemu_img.info(top)
    assert found["backingFile"] == mid and found["backingFormat"] == "qcow2"
    assert found["backingChain"] == [mid, str(qcow2)]
    assert found["virtualSize"] == 4 * MiB                    # inherited from the backing file
    assert qemu_img.info(top, chain=False)["backingChain"] == [mid]
    assert qemu_img.compare(top, str(qcow2))
    bigger = qemu_img.create(str(tmp_path / "big.qcow2"), 8 * MiB, backing=str(qcow2))
    assert qemu_img.info(bigger)["virtualSize"] == 8 * MiB


def test_errors_are_one_line(tmp_path, qcow2):
    with pytest.raises(StorageError) as e:
        qemu_img.create(str(qcow2), MiB)
    assert "already exists" in str(e.value)
    target = tmp_path / "x.qcow2"
    with pytest.raises(StorageError) as e:
        qemu_img.create(str(target), MiB, backing=str(tmp_path / "missing.qcow2"), backing_fmt="qcow2")
    assert str(e.value).startswith(f"qemu-img failed to create {target}: ")
    assert "\n" not in str(e.value)
    assert not target.exists() and leftovers(tmp_path / "src") == [str(qcow2)]
    with pytest.raises(StorageError, match="image not found"):
        qemu_img.info(str(tmp_path / "nope.qcow2"))
    with pytest.raises(StorageError, match="timed out"):
        qemu_img.run(["info", str(qcow2)], timeout=0.000001)
    with pytest.raises(StorageError, match="size must be positive"):
        qemu_img.create(str(tmp_path / "z.qcow2"), 0)


@needs_qemu_io
def test_convert_rebase_and_compare(tmp_path, qcow2):
    top = qemu_img.create(str(tmp_path / "top.qcow2"), None, backing=str(qcow2))
    write(top, MiB, MiB, 0x22)
    expected = b"\x11" * MiB + b"\x22" * MiB + b"\0" * 2 * MiB
    assert content(top, tmp_path) == expected

    # A moved chain: copy the base elsewhere, repoint the header only.
    moved = tmp_path / "moved" / "base.qcow2"
    moved.parent.mkdir()
    shutil.copyfile(qcow2, moved)
    qemu_img.rebase(top, str(moved), "qcow2", unsafe=True)
    assert qemu_img.info(top)["backingChain"] == [str(moved)]
    assert content(top, tmp_path) == expected

    # A safe rebase onto nothing pulls the data up: the image stands alone.
    qemu_img.rebase(top, None, unsafe=False)
    assert qemu_img.info(top)["backingFile"] is None
    assert content(top, tmp_path) == expected

    flat = qemu_img.convert(top, str(tmp_path / "flat.qcow2"), "qcow2")
    assert qemu_img.compare(flat, top)
    write(flat, 0, 512, 0x33)
    assert not qemu_img.compare(flat, top)


# -- backup storage --------------------------------------------------------------

@pytest.mark.parametrize("how", ["path", "file", "http", "redirect"])
def test_import_qcow2(tmp_path, qcow2, http_dir, how):
    served, base = http_dir
    shutil.copyfile(qcow2, served / "my disk.qcow2")
    url = {"path": str(qcow2), "file": f"file://{served}/my%20disk.qcow2",
           "http": f"{base}/my%20disk.qcow2", "redirect": f"{base}/redirect/my%20disk.qcow2"}[how]
    bs = tmp_path / "bs"
    got = image_store.import_image(url, str(bs), "img1", "qcow2")
    assert got["path"] == str(bs / "images" / "img1" / "img1.qcow2")
    assert open(got["path"], "rb").read() == qcow2.read_bytes()
    assert got["size"] == 4 * MiB
    assert got["actualSize"] == os.stat(got["path"]).st_blocks * 512 > 0
    assert got["md5sum"] == digest(qcow2, "md5")
    assert got["sha256"] == digest(qcow2, "sha256")
    assert leftovers(bs) == [got["path"]]


def test_import_raw_and_iso(tmp_path, raw_file):
    bs = tmp_path / "bs"
    got = image_store.import_image(str(raw_file), str(bs), "r", "raw")
    assert got["size"] == 2 * MiB and got["sha256"] == digest(raw_file, "sha256")
    iso = fake_iso(tmp_path / "src" / "cd.iso")
    got = image_store.import_image(str(iso), str(bs), "i", "iso")
    assert got["path"].endswith("/images/i/i.iso") and got["size"] == 3 * MiB


def test_import_checks_the_declared_format(tmp_path, raw_file, qcow2):
    bs = tmp_path / "bs"
    with pytest.raises(StorageError, match="is not a qcow2 image .*as raw"):
        image_store.import_image(str(raw_file), str(bs), "a", "qcow2")
    with pytest.raises(StorageError, match="not an ISO 9660 image"):
        image_store.import_image(str(fake_iso(tmp_path / "src" / "bad.iso", magic=False)),
                                 str(bs), "b", "iso")
    overlay = qemu_img.create(str(tmp_path / "src" / "ov.qcow2"), None, backing=str(qcow2))
    with pytest.raises(StorageError, match="backing file"):
        image_store.import_image(overlay, str(bs), "c", "qcow2")
    with pytest.raises(StorageError, match="unsupported image format vmdk"):
        image_store.import_image(str(qcow2), str(bs), "d", "vmdk")
    with pytest.raises(StorageError, match="unsupported url"):
        image_store.import_image("relative/disk.qcow2", str(bs), "e", "qcow2")
    with pytest.raises(StorageError, match="file not found"):
        image_store.import_image(str(tmp_path / "missing.qcow2"), str(bs), "f", "qcow2")
    assert leftovers(bs) == []
    assert os.listdir(bs / "images") == []          # no empty image directory either


def test_import_http_failures_leave_nothing(tmp_path, qcow2, http_dir):
    served, base = http_dir
    shutil.copyfile(qcow2, served / "d.qcow2")
    bs = tmp_path / "bs"
    with pytest.raises(StorageError) as e:
        image_store.import_image(f"{base}/missing.qcow2", str(bs), "a", "qcow2")
    assert str(e.value) == f"failed to download {base}/missing.qcow2: HTTP 404 File not found"
    with pytest.raises(StorageError, match="connection broke after|got .* of"):
        image_store.import_image(f"{base}/broken/d.qcow2", str(bs), "b", "qcow2")
    with socket_closed() as port:
        with pytest.raises(StorageError, match=f"cannot connect to 127.0.0.1:{port}"):
            image_store.import_image(f"http://127.0.0.1:{port}/d.qcow2", str(bs), "c", "qcow2",
                                     timeout=5)
    with pytest.raises(StorageError) as e:
        image_store.import_image("http://u:secret@127.0.0.1:1/x", str(bs), "d", "qcow2", timeout=5)
    assert "secret" not in str(e.value)
    assert leftovers(bs) == []


class socket_closed:
    """A local port nobody listens on."""

    def __enter__(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        pass


def test_progress(tmp_path, http_dir):
    served, base = http_dir
    src = served / "big.raw"
    src.write_bytes(os.urandom(6 * MiB))
    for url in (str(src), f"{base}/big.raw"):
        calls = []
        started = time.monotonic()
        image_store.import_image(url, str(tmp_path / "bs"), f"p{len(url)}", "raw",
                                 progress=lambda done, total: calls.append((done, total)))
        elapsed = time.monotonic() - started
        assert calls[0] == (0, 6 * MiB) and calls[-1] == (6 * MiB, 6 * MiB)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
        assert len(calls) <= 2 + 10 * elapsed + 1   # not chunk by chunk: ~10 a second


def test_progress_is_rate_limited():
    from backend.storage.files import Progress
    calls = []
    p = Progress(lambda d, t: calls.append(d), rate=10)
    now = [0.0]
    p._clock = lambda: now[0]
    for i in range(100):            # 100 chunks over one second
        now[0] = i / 100
        p.update(i, 100)
    p.finish(100, 100)
    assert 9 <= len(calls) <= 12 and calls[-1] == 100


def test_delete_image_and_capacity(tmp_path, qcow2):
    bs = tmp_path / "bs"
    got = image_store.import_image(str(qcow2), str(bs), "x", "qcow2")
    image_store.delete_image(got["path"])
    assert not os.path.exists(os.path.dirname(got["path"]))
    image_store.delete_image(got["path"])          # twice is fine
    total, available = image_store.capacity(str(bs))
    assert total >= available > 0
    with pytest.raises(StorageError, match="directory not found"):
        image_store.capacity(str(tmp_path / "nowhere"))


# -- local primary storage -----------------------------------------------------

def test_layout(tmp_path):
    r = str(tmp_path)
    assert layout.image_cache_path(r, "i", "qcow2") == f"{r}/imagecache/template/i/i.qcow2"
    assert layout.root_volume_path(r, "vm", "v") == f"{r}/rootVolumes/vm-v.qcow2"
    assert layout.data_volume_path(r, "v") == f"{r}/dataVolumes/v.qcow2"
    assert layout.snapshot_path(r, "v", "s") == f"{r}/snapshots/v-s.qcow2"
    with pytest.raises(StorageError, match="invalid name"):
        layout.data_volume_path(r, "../etc")


def test_image_cache_is_copied_once_and_checked(tmp_path, qcow2):
    r = str(tmp_path / "ps")
    md5 = digest(qcow2, "md5")
    path = local.ensure_image_cache(r, "img", "qcow2", str(qcow2), md5sum=md5)
    assert path == layout.image_cache_path(r, "img", "qcow2")
    assert digest(path, "md5") == md5
    inode = os.stat(path).st_ino
    assert local.ensure_image_cache(r, "img", "qcow2", str(qcow2), md5sum=md5) == path
    assert os.stat(path).st_ino == inode                     # reused, not copied again

    bad = layout.image_cache_path(r, "bad", "qcow2")
    with pytest.raises(StorageError, match="damaged: md5"):
        local.ensure_image_cache(r, "bad", "qcow2", str(qcow2), md5sum="0" * 32)
    assert not os.path.exists(bad)
    assert [f for f in leftovers(os.path.dirname(bad)) if not f.endswith(".lock")] == []
    local.delete_image_cache(r, "img", "qcow2")
    assert not os.path.exists(os.path.dirname(path))


def _ensure_in_child(r, src, log):
    from backend.storage import local as child_local
    original = child_local._copy

    def counting_copy(*args):
        with open(log, "a") as f:
            f.write("copy\n")
        time.sleep(0.3)                                       # hold the lock a while
        return original(*args)

    child_local._copy = counting_copy
    child_local.ensure_image_cache(r, "img", "qcow2", src)


def test_image_cache_concurrent_processes_copy_once(tmp_path, qcow2):
    r, log = str(tmp_path / "ps"), str(tmp_path / "copies.log")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_ensure_in_child, args=(r, str(qcow2), log)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert open(log).read() == "copy\n"
    cache = layout.image_cache_path(r, "img", "qcow2")
    assert open(cache, "rb").read() == qcow2.read_bytes()


def test_root_volume_backed_by_cache(tmp_path, qcow2, raw_file):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    vol = local.create_root_volume(r, "vm1", "root1", cache)
    assert vol == layout.root_volume_path(r, "vm1", "root1")
    found = qemu_img.info(vol)
    assert (found["format"], found["backingFile"], found["backingFormat"]) == ("qcow2", cache, "qcow2")
    assert found["virtualSize"] == 4 * MiB
    assert qemu_img.compare(vol, cache)

    grown = local.create_root_volume(r, "vm2", "root2", cache, size=16 * MiB)
    assert qemu_img.info(grown)["virtualSize"] == 16 * MiB
    kept = local.create_root_volume(r, "vm3", "root3", cache, size=MiB)   # never shrinks
    assert qemu_img.info(kept)["virtualSize"] == 4 * MiB

    raw_cache = local.ensure_image_cache(r, "rawimg", "raw", str(raw_file))
    from_raw = local.create_root_volume(r, "vm4", "root4", raw_cache)
    assert qemu_img.info(from_raw)["backingFormat"] == "raw"
    assert content(from_raw, tmp_path) == raw_file.read_bytes()

    local.delete_volume(vol)
    local.delete_volume(vol)                                              # absent: fine
    assert not os.path.exists(vol) and os.path.exists(grown)
    assert os.path.exists(cache)

    # A volume of the former layout (a directory of its own) takes its directory along.
    legacy = os.path.join(r, "rootVolumes", "vm9", "root9.qcow2")
    os.makedirs(os.path.dirname(legacy))
    shutil.copy(grown, legacy)
    local.delete_volume(legacy)
    assert not os.path.exists(os.path.dirname(legacy))
    assert os.path.isdir(os.path.join(r, "rootVolumes"))


def template_files(cache):
    """The root volume templates kept next to an image cache."""
    directory, name = os.path.split(cache)
    return sorted(f for f in os.listdir(directory) if f.startswith(f".{name}.tmpl."))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_qcow2(path):
    """``qemu-img check`` finds a sound qcow2 image (exit status 0)."""
    proc = subprocess.run(["qemu-img", "check", "-f", "qcow2", str(path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def no_qemu_img(*args, **kwargs):
    raise AssertionError(f"qemu-img ran: {args}")


def test_root_volumes_are_copies_of_a_template(tmp_path, qcow2, monkeypatch):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    first = local.create_root_volume(r, "vm1", "root1", cache)
    grown_first = local.create_root_volume(r, "vm2", "root2", cache, size=16 * MiB)
    st = os.stat(cache)
    ident = f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"
    assert template_files(cache) == [f".img.qcow2.tmpl.{ident}.{16 * MiB}.qcow2",
                                     f".img.qcow2.tmpl.{ident}.image.qcow2"]

    # From now on no process runs: in this process (templates remembered) nor
    # in a fresh one (templates read from their files).
    monkeypatch.setattr(qemu_img, "run", no_qemu_img)
    copies = [local.create_root_volume(r, "vm3", "root3", cache),
              local.create_root_volume(r, "vm4", "root4", cache, size=MiB)]      # never shrinks
    grown = [local.create_root_volume(r, "vm5", "root5", cache, size=16 * MiB)]
    monkeypatch.setattr(templates, "_TEMPLATES", {})
    copies.append(local.create_root_volume(r, "vm6", "root6", cache))
    grown.append(local.create_root_volume(r, "vm7", "root7", cache, size=str(16 * MiB)))
    monkeypatch.undo()

    reference = qemu_img.create(os.path.join(r, "rootVolumes", "ref.qcow2"), None, backing=cache,
                                backing_fmt="qcow2")
    for vol, size in [(v, 4 * MiB) for v in [first] + copies] + \
                     [(v, 16 * MiB) for v in [grown_first] + grown]:
        check_qcow2(vol)
        found = qemu_img.info(vol)
        assert (found["format"], found["backingFile"], found["backingFormat"],
                found["virtualSize"]) == ("qcow2", cache, "qcow2", size)
        assert found["backingChain"] == [cache]
    for vol in copies:                       # exactly what qemu-img makes
        assert read(vol) == read(reference)
    assert len(template_files(cache)) == 2
    assert [f for f in leftovers(os.path.join(r, "rootVolumes")) if f.endswith(".part")] == []
    with pytest.raises(StorageError, match="already exists"):
        local.create_root_volume(r, "vm3", "root3", cache)
    with pytest.raises(StorageError, match="image not found"):
        local.create_root_volume(r, "vm8", "root8", cache + ".missing.qcow2")

    local.delete_image_cache(r, "img", "qcow2")          # the templates go with the cache
    assert not os.path.exists(os.path.dirname(cache))


@needs_qemu_io
def test_template_copies_do_not_share_data(tmp_path, qcow2):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    a = local.create_root_volume(r, "vma", "roota", cache)
    b = local.create_root_volume(r, "vmb", "rootb", cache)
    template = os.path.join(os.path.dirname(cache), template_files(cache)[0])
    sums = local.checksum(cache), local.checksum(template)
    image = b"\x11" * MiB + b"\0" * 3 * MiB

    write(a, MiB, MiB, 0x66)
    write(b, 0, 4096, 0x77)
    assert content(a, tmp_path) == b"\x11" * MiB + b"\x66" * MiB + b"\0" * 2 * MiB
    assert content(b, tmp_path) == b"\x77" * 4096 + image[4096:]
    c = local.create_root_volume(r, "vmc", "rootc", cache)        # made after the writes
    assert content(c, tmp_path) == image
    assert (local.checksum(cache), local.checksum(template)) == sums
    for vol in (a, b, c):
        check_qcow2(vol)


def test_template_follows_a_replaced_cache(tmp_path, qcow2):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    local.create_root_volume(r, "vm1", "root1", cache)
    before = template_files(cache)

    # Replaced by rename (a new inode), then rewritten in place (same inode).
    for n, size in ((2, 8 * MiB), (3, 12 * MiB)):
        other = qemu_img.create(str(tmp_path / "src" / f"other{n}.qcow2"), size)
        if n == 2:
            shutil.copyfile(other, cache + ".new")
            os.replace(cache + ".new", cache)
        else:
            time.sleep(0.01)
            shutil.copyfile(other, cache)
        vol = local.create_root_volume(r, f"vm{n}", f"root{n}", cache)
        check_qcow2(vol)
        assert qemu_img.info(vol)["virtualSize"] == size
        assert len(template_files(cache)) == 1
        assert template_files(cache) != before                # the stale one is gone
        before = template_files(cache)


def test_a_template_in_doubt_falls_back_to_qemu_img(tmp_path, qcow2, monkeypatch):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    local.create_root_volume(r, "vm0", "root0", cache)
    template = os.path.join(os.path.dirname(cache), template_files(cache)[0])
    good = read(template)
    other = qemu_img.create(str(tmp_path / "other.qcow2"), None, backing=str(qcow2),
                            backing_fmt="qcow2")
    damaged = [read(other),          # another backing file (a moved storage)
               good[:50],                          # cut short
               good[:72] + b"\0" * 7 + b"\1" + good[80:],   # an incompatible feature bit
               good.replace(b"qcow2", b"qcowX", 1)]            # another backing format
    for n, data in enumerate(damaged):
        with open(template, "wb") as f:
            f.write(data)
        monkeypatch.setattr(templates, "_TEMPLATES", {})
        vol = local.create_root_volume(r, f"vm{n}x", "root", cache)
        check_qcow2(vol)
        found = qemu_img.info(vol)
        assert (found["backingFile"], found["backingFormat"]) == (cache, "qcow2")
        assert not os.path.exists(template)        # dropped: the next call makes it again
        local.create_root_volume(r, f"vm{n}y", "root", cache)
        assert read(template) == good

    # A template that can not be made at all (here: no lock): qemu-img, as before.
    def no_lock(path):
        raise StorageError(f"cannot create the lock file {path}: Read-only file system")

    monkeypatch.setattr(templates, "_TEMPLATES", {})
    monkeypatch.setattr(files, "file_lock", no_lock)
    os.unlink(template)
    vol = local.create_root_volume(r, "vmz", "rootz", cache, size=8 * MiB)
    check_qcow2(vol)
    assert qemu_img.info(vol)["virtualSize"] == 8 * MiB
    assert template_files(cache) == []


def test_template_sizes_round_like_qemu_img(tmp_path, qcow2, monkeypatch):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    odd = 16 * MiB + 1                                   # qemu-img rounds up to 512 bytes
    local.create_root_volume(r, "vm1", "root1", cache, size=odd)
    monkeypatch.setattr(templates, "_TEMPLATES", {})
    monkeypatch.setattr(qemu_img, "run", no_qemu_img)   # the template is taken as it is
    vol = local.create_root_volume(r, "vm2", "root2", cache, size=odd)
    monkeypatch.undo()
    check_qcow2(vol)
    assert qemu_img.info(vol)["virtualSize"] == 16 * MiB + 512


def test_unrecognised_qemu_img_output_is_not_retried(tmp_path, qcow2, monkeypatch):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    made = []
    original = qemu_img.create

    def counting_create(path, *args, **kwargs):
        made.append(os.path.basename(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(templates, "_TEMPLATES", {})
    monkeypatch.setattr(templates, "_check_overlay", lambda *args: None)   # a future qemu-img, say
    monkeypatch.setattr(qemu_img, "create", counting_create)
    vols = [local.create_root_volume(r, f"vm{i}", f"root{i}", cache) for i in range(3)]
    assert len([m for m in made if ".tmpl." in m]) == 1                 # tried once, then qemu-img
    assert len([m for m in made if ".tmpl." not in m]) == 3
    for vol in vols:
        check_qcow2(vol)
        assert qemu_img.info(vol)["backingFile"] == cache


def _create_volumes_in_child(r, cache, n, log, barrier):
    from backend.storage import local as child_local
    from backend.storage import qemu_img as child_qemu_img
    original = child_qemu_img.create

    def counting_create(path, *args, **kwargs):
        if ".tmpl." in os.path.basename(path):
            with open(log, "a") as f:
                f.write("template\n")
            time.sleep(0.3)                                   # hold the lock a while
        return original(path, *args, **kwargs)

    child_qemu_img.create = counting_create
    barrier.wait(30)
    for i in range(5):
        child_local.create_root_volume(r, f"vm{n}-{i}", f"root{n}-{i}", cache)


def test_root_volumes_concurrent_processes_make_one_template(tmp_path, qcow2):
    r, log = str(tmp_path / "ps"), str(tmp_path / "templates.log")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_create_volumes_in_child, args=(r, cache, n, log, barrier))
             for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert read(log) == b"template\n"
    assert len(template_files(cache)) == 1
    for n in range(4):
        for i in range(5):
            vol = layout.root_volume_path(r, f"vm{n}-{i}", f"root{n}-{i}")
            check_qcow2(vol)
            found = qemu_img.info(vol)
            assert (found["backingFile"], found["virtualSize"]) == (cache, 4 * MiB)
    assert [f for f in leftovers(r) if f.endswith(".part")] == []


@needs_qemu_io
def test_data_volume_snapshots_merge_out_without_losing_data(tmp_path):
    r = str(tmp_path / "ps")
    vol = layout.data_volume_path(r, "v")
    local.create_empty_volume(vol, 4 * MiB)
    write(vol, 0, MiB, 0xaa)
    s1 = local.snapshot(vol, layout.snapshot_path(r, "v", "s1"))
    assert s1 == vol
    s1 = layout.snapshot_path(r, "v", "s1")
    write(vol, MiB, MiB, 0xbb)
    s2 = layout.snapshot_path(r, "v", "s2")
    local.snapshot(vol, s2)
    write(vol, 0, 512 * 1024, 0xcc)
    expected = b"\xcc" * (512 * 1024) + b"\xaa" * (512 * 1024) + b"\xbb" * MiB + b"\0" * 2 * MiB
    assert content(vol, tmp_path) == expected
    assert qemu_img.info(vol)["backingChain"] == [s2, s1]
    # Each snapshot still shows the volume as it was.
    assert content(s1, tmp_path) == b"\xaa" * MiB + b"\0" * 3 * MiB
    assert content(s2, tmp_path) == b"\xaa" * MiB + b"\xbb" * MiB + b"\0" * 2 * MiB

    local.delete_snapshot(vol, s1)                                   # the middle of the chain
    assert qemu_img.info(vol)["backingChain"] == [s2]
    assert content(vol, tmp_path) == expected
    assert content(s2, tmp_path) == b"\xaa" * MiB + b"\xbb" * MiB + b"\0" * 2 * MiB
    local.delete_snapshot(vol, s2)                                   # the last one
    assert qemu_img.info(vol)["backingChain"] == []
    assert content(vol, tmp_path) == expected
    assert not os.path.exists(s2) and os.listdir(os.path.dirname(s2)) == []
    local.delete_snapshot(vol, s2)                                   # twice is fine


@needs_qemu_io
def test_root_volume_snapshot_never_writes_the_cache(tmp_path, qcow2):
    r = str(tmp_path / "ps")
    cache = local.ensure_image_cache(r, "img", "qcow2", str(qcow2))
    cache_sum = local.checksum(cache)
    vol = local.create_root_volume(r, "vm", "root", cache)
    write(vol, 2 * MiB, MiB, 0x44)
    s = layout.snapshot_path(r, "root", "s")
    local.snapshot(vol, s)
    write(vol, 0, 4096, 0x55)
    expected = content(vol, tmp_path)
    assert qemu_img.info(vol)["backingChain"] == [s, cache]
    local.delete_snapshot(vol, s)
    assert qemu_img.info(vol)["backingChain"] == [cache]
    assert content(vol, tmp_path) == expected
    assert expected[:4096] == b"\x55" * 4096 and expected[2 * MiB:3 * MiB] == b"\x44" * MiB
    assert local.checksum(cache) == cache_sum


def test_snapshot_failures_keep_the_volume(tmp_path):
    r = str(tmp_path / "ps")
    vol = layout.data_volume_path(r, "v")
    local.create_empty_volume(vol, MiB)
    before = local.checksum(vol)
    taken = layout.snapshot_path(r, "v", "s")
    os.makedirs(os.path.dirname(taken))
    open(taken, "w").close()
    with pytest.raises(StorageError, match="already exists"):
        local.snapshot(vol, taken)
    assert local.checksum(vol) == before and qemu_img.info(vol)["backingFile"] is None
    os.unlink(taken)

    # An attempt that stopped after the link: the stray name is dropped and the snapshot made.
    os.link(vol, taken)
    local.snapshot(vol, taken)
    assert qemu_img.info(vol)["backingChain"] == [taken]
    assert not os.path.samefile(vol, taken)
    with pytest.raises(StorageError, match="it is the volume itself"):
        local.delete_snapshot(vol, vol)


def test_delete_snapshot_finishes_an_interrupted_merge(tmp_path):
    r = str(tmp_path / "ps")
    vol = layout.data_volume_path(r, "v")
    local.create_empty_volume(vol, MiB)
    s1, s2 = layout.snapshot_path(r, "v", "s1"), layout.snapshot_path(r, "v", "s2")
    local.snapshot(vol, s1)
    local.snapshot(vol, s2)
    # s1 still backs s2: it can not be dropped outside the chain.
    qemu_img.rebase(vol, None, unsafe=False)          # vol no longer reads s2 (nor s1)
    with pytest.raises(StorageError, match="is backed by it"):
        local.delete_snapshot(vol, s1)
    other = layout.data_volume_path(r, "w")
    local.create_empty_volume(other, MiB)
    with pytest.raises(StorageError, match="not a snapshot of"):
        local.delete_snapshot(other, s2)              # someone else's: never removed
    local.delete_snapshot(vol, s2)                    # merged already: just removed
    assert not os.path.exists(s2)
    local.delete_snapshot(vol, s1)
    assert not os.path.exists(s1)


@needs_qemu_io
def test_snapshot_refuses_a_volume_in_use(tmp_path):
    r = str(tmp_path / "ps")
    vol = layout.data_volume_path(r, "v")
    local.create_empty_volume(vol, MiB)
    s0 = layout.snapshot_path(r, "v", "s0")
    local.snapshot(vol, s0)
    holder = subprocess.Popen(["qemu-io", "-f", "qcow2", vol], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Its prompt means the image is open and locked. (Polling with qemu-img
        # instead would race: qemu-io can not lock what qemu-img holds that moment.)
        seen = b""
        while b"qemu-io>" not in seen:
            chunk = os.read(holder.stdout.fileno(), 4096)
            assert chunk, seen
            seen += chunk
        with pytest.raises(StorageError, match="lock"):
            local.snapshot(vol, layout.snapshot_path(r, "v", "s"))
        assert qemu_img.info(vol)["format"] == "qcow2"        # reading never takes the lock
        with pytest.raises(StorageError, match="lock"):
            qemu_img.info(vol, force_share=False)
        with pytest.raises(StorageError, match="lock"):
            local.delete_snapshot(vol, s0)
    finally:
        holder.communicate(b"quit\n", timeout=5)
    assert not os.path.exists(layout.snapshot_path(r, "v", "s"))
    assert qemu_img.info(vol)["backingChain"] == [s0]
    local.delete_snapshot(vol, s0)                    # fine once the holder is gone


def test_capacity_and_checksum(tmp_path, raw_file):
    total, available = local.capacity(str(tmp_path))
    assert total >= available > 0
    assert local.checksum(str(raw_file)) == digest(raw_file, "sha256")
    with pytest.raises(StorageError, match="file not found"):
        local.checksum(str(tmp_path / "missing"))


def test_the_qcow2_header_reader_agrees_with_qemu_img(tmp_path):
    """backing files as qemu-img reports them: none, relative, absolute with a raw
    format, version 2 headers; None for what it does not read (qemu-img then)."""
    import json

    from backend.storage import qcow2

    def make(*args):
        subprocess.run(["qemu-img", "create", "-q", *args], check=True)
    (tmp_path / "sub").mkdir()
    make("-f", "qcow2", str(tmp_path / "base.qcow2"), "16M")
    make("-f", "raw", str(tmp_path / "base.raw"), "16M")
    make("-f", "qcow2", "-b", "../base.qcow2", "-F", "qcow2", str(tmp_path / "sub" / "rel.qcow2"))
    make("-f", "qcow2", "-b", str(tmp_path / "base.raw"), "-F", "raw", str(tmp_path / "abs.qcow2"))
    make("-f", "qcow2", "-o", "compat=0.10", "-b", str(tmp_path / "base.qcow2"), "-F", "qcow2",
         str(tmp_path / "v2.qcow2"))
    for name in ("base.qcow2", "sub/rel.qcow2", "abs.qcow2", "v2.qcow2"):
        path = str(tmp_path / name)
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", "-U", path],
                                         capture_output=True, text=True, check=True).stdout)
        assert qcow2.backing(path) == (info.get("backing-filename"),
                                       info.get("backing-filename-format")), name
    header = (tmp_path / "abs.qcow2").read_bytes()[:70000]
    (tmp_path / "short.qcow2").write_bytes(header[:40])
    unknown = bytearray(header)
    unknown[72] |= 0x80                 # an incompatible feature qemu 7 does not know
    (tmp_path / "unknown.qcow2").write_bytes(unknown)
    for name in ("base.raw", "short.qcow2", "unknown.qcow2", "missing"):
        assert qcow2.backing(str(tmp_path / name)) is None
    # Damaged headers give an answer or None, never an exception or a huge read.
    import random

    rng = random.Random(7)
    damaged = tmp_path / "damaged.qcow2"
    for _ in range(2000):
        data = bytearray(header[:rng.choice([30, 80, 104, 600, 70000])])
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(min(len(data), 700))] = rng.randrange(256)
        damaged.write_bytes(data)
        found = qcow2.backing(str(damaged))
        assert found is None or isinstance(found, tuple)
