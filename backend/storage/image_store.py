"""Backup storage: a directory of images (SPEC §7, AddSftpBackupStorage/AddImage).

An image lives at ``<dir>/images/<imageUuid>/<imageUuid>.<fmt>``. Importing
copies or downloads it to a temporary file beside that path, computing md5
and sha256 in the same pass, checks that the content is what the format
says, and only then renames it into place: a failed or interrupted import
leaves nothing at the final path.

Content checks: a declared qcow2 must be a qcow2 by qemu-img's probe, with
no backing file and no external data file (either would let an uploaded
image make a VM read arbitrary files of the host). A raw image is taken as
is, and is only ever opened as raw. An ISO must carry the ISO 9660 volume
descriptor magic "CD001" at offset 0x8001.

``requests`` is imported only when an http(s) url is imported.
"""

import os
import re
import urllib.parse

from ..i18n import msg
from . import StorageError, qemu_img
from .files import (CHUNK, Hasher, Progress, capacity as _capacity, check_name, copy_file,
                    discard, disk_usage, make_dirs, publish, remove_dir_if_empty, temp_path,
                    write_all)

FORMATS = ("qcow2", "raw", "iso")
DOWNLOAD_TIMEOUT = 60    # seconds to connect, and at most between two reads of a download
ISO_MAGIC_OFFSET = 0x8001
ISO_MAGIC = b"CD001"


def image_path(dest_dir, image_uuid, fmt):
    check_name(image_uuid)
    return os.path.join(os.path.abspath(dest_dir), "images", image_uuid, f"{image_uuid}.{fmt}")


def import_image(url, dest_dir, image_uuid, fmt, progress=None, timeout=DOWNLOAD_TIMEOUT):
    """Copy or download ``url`` (an absolute path, file://... or
    http(s)://...) into the backup storage directory ``dest_dir``.

    ``progress(done_bytes, total_bytes_or_None)`` is called as bytes arrive,
    at most ~10 times a second, and once at the end. ``timeout`` bounds the
    connection and any stall of a download (not its total duration: a big
    image on a slow link may take as long as it keeps moving).

    Returns {"path", "size" (virtual size; the file size for an iso),
    "actualSize" (bytes on disk), "md5sum", "sha256"}.
    """
    if fmt not in FORMATS:
        raise StorageError(msg("unsupported image format {fmt} (qcow2, raw or iso)", fmt=fmt))
    final = image_path(dest_dir, image_uuid, fmt)
    image_dir = os.path.dirname(final)
    make_dirs(image_dir)
    tmp = temp_path(final)
    hasher = Hasher("md5", "sha256")
    reporter = Progress(progress) if progress else None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            _fetch(url, fd, tmp, hasher, reporter, timeout)
        finally:
            os.close(fd)
        size = _check_content(tmp, fmt, url)
        publish(tmp, final)
    except BaseException:
        discard(tmp)
        remove_dir_if_empty(image_dir)
        raise
    return {
        "path": final,
        "size": size,
        "actualSize": disk_usage(final),
        "md5sum": hasher.hexdigest("md5"),
        "sha256": hasher.hexdigest("sha256"),
    }


def _fetch(url, fd, tmp, hasher, reporter, timeout):
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError as e:
        raise StorageError(msg("unsupported url {url}: {error}", url=_redact(url), error=e))
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        _download(url, fd, tmp, hasher, reporter, timeout)
    elif scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StorageError(msg("unsupported url {url}: a file:// url must name a local file "
                                   "(file:///path)", url=url))
        copy_file(urllib.parse.unquote(parsed.path), fd, tmp, hasher, reporter)
    elif scheme == "" and url.startswith("/"):
        copy_file(url, fd, tmp, hasher, reporter)
    else:
        raise StorageError(msg("unsupported url {url}: use an absolute path, file:// or http(s)://",
                               url=_redact(url)))


def _download(url, fd, tmp, hasher, reporter, timeout):
    import requests

    shown = _redact(url)
    try:
        response = requests.get(url, stream=True, timeout=(timeout, timeout), allow_redirects=True)
    except requests.exceptions.Timeout:
        raise StorageError(msg("failed to download {shown}: no answer within {timeout} seconds",
                               shown=shown, timeout=timeout))
    except requests.exceptions.SSLError as e:
        why = msg("the server's certificate") if "CERTIFICATE_VERIFY_FAILED" in str(e) else \
            msg("the TLS handshake")
        raise StorageError(msg("failed to download {shown}: {why} failed", shown=shown, why=why))
    except requests.exceptions.ConnectionError as e:
        raise StorageError(msg("failed to download {shown}: cannot connect to {server}{cause}",
                               shown=shown, cause=_cause(e),
                               server=urllib.parse.urlsplit(url).netloc.rpartition('@')[2]))
    except requests.exceptions.TooManyRedirects:
        raise StorageError(msg("failed to download {shown}: too many redirects", shown=shown))
    except requests.exceptions.RequestException as e:
        raise StorageError(msg("failed to download {shown}: {error}",
                               shown=shown, error=_cause(e)[2:-1] or e))
    with response:
        if response.status_code >= 400:
            # (a StorageError strips the space left by an empty reason)
            raise StorageError(msg("failed to download {shown}: HTTP {status} {reason}",
                                   shown=shown, status=response.status_code,
                                   reason=response.reason or ''))
        total = _content_length(response)
        done = 0
        if reporter:
            reporter.update(0, total)
        try:
            for chunk in response.iter_content(CHUNK):
                write_all(fd, chunk, tmp)
                hasher.update(chunk)
                done += len(chunk)
                if reporter:
                    reporter.update(done, total)
        except requests.exceptions.RequestException as e:
            timed_out = isinstance(e, requests.exceptions.Timeout) or "timed out" in str(e)
            why = msg("no data for {timeout} seconds", timeout=timeout) if timed_out \
                else msg("the connection broke")
            if total is None:
                raise StorageError(msg("failed to download {shown}: {why} after {done} bytes",
                                       shown=shown, why=why, done=done))
            raise StorageError(msg("failed to download {shown}: {why} after {done} bytes of "
                                   "{total}", shown=shown, why=why, done=done, total=total))
        if total is not None and done != total:
            raise StorageError(msg("failed to download {shown}: got {done} of {total} bytes",
                                   shown=shown, done=done, total=total))
        if reporter:
            reporter.finish(done, total)


def _content_length(response):
    # With a Content-Encoding, requests hands us decoded bytes: the header
    # counts the encoded ones, so it is no total for progress or checks.
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    try:
        length = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def _cause(e):
    """The innermost reason of a requests error ("Connection refused"), as
    " (reason)", or "" when there is nothing readable."""
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return f" ({m.group(1).strip()})"
    return ""


def _redact(url):
    """The url without a password, fit for an error line."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)


def _check_content(path, fmt, url):
    """Validate the downloaded bytes against ``fmt``; return the image's size."""
    shown = _redact(url)
    if fmt == "iso":
        with open(path, "rb") as f:
            f.seek(ISO_MAGIC_OFFSET)
            if f.read(len(ISO_MAGIC)) != ISO_MAGIC:
                raise StorageError(msg("{shown} is not an ISO 9660 image (no CD001 signature at "
                                       "offset 0x8001)", shown=shown))
        return os.path.getsize(path)
    if fmt == "raw":
        size = os.path.getsize(path)
        if size == 0:
            raise StorageError(msg("{shown} is empty", shown=shown))
        return size
    try:
        found = qemu_img.info(path, chain=False)
    except StorageError:
        raise StorageError(msg("{shown} is not a qcow2 image (qemu-img cannot read it)",
                               shown=shown))
    if found["format"] != "qcow2":
        raise StorageError(msg("{shown} is not a qcow2 image (qemu-img reads it as {format}); add "
                               "it with format=raw if it is a raw disk",
                               shown=shown, format=found['format']))
    if found["backingFile"]:
        raise StorageError(msg("{shown} is a qcow2 image with a backing file; only standalone "
                               "images can be added", shown=shown))
    if found["formatSpecific"].get("data-file"):
        raise StorageError(msg("{shown} is a qcow2 image with an external data file; only "
                               "standalone images can be added", shown=shown))
    return found["virtualSize"]


def delete_image(path):
    """Remove an image file and its directory once empty; a missing file is
    not an error (deleting twice succeeds, as ZStack's Delete* do)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StorageError(msg("cannot delete {path}: {error}", path=path, error=e.strerror))
    remove_dir_if_empty(os.path.dirname(os.path.abspath(path)))


def capacity(directory):
    """(total, available) bytes of the filesystem holding the backup storage."""
    return _capacity(directory)
