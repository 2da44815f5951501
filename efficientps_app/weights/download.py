"""Explicit, resumable downloads over HTTP(S) and FTP with the standard library (urllib, ftplib).

A transfer writes ``DEST.part`` (next to it, ``DEST.part.json`` names the URL it belongs to); an interrupted
one is resumed from the bytes already there (an HTTP ``Range`` request, an FTP ``REST``) by the next attempt or
the next run. Only a transfer that delivered every byte the server announced is renamed to ``DEST``, so a
file without ``.part`` is always complete.

Failures fall in three kinds: *unreachable* (name not resolved, connection refused, no route, connect timeout:
the next source is tried at once), *permanent* (HTTP 404, FTP 550, ...: also the next source) and *transient*
(a transfer that broke off, a timeout while reading, HTTP 5xx, FTP 4xx: retried with a growing pause,
resuming).
"""

from __future__ import annotations

import errno
import ftplib
import hashlib
import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from efficientps_app.errors import EfficientPSError

CHUNK = 1 << 20  # bytes per read
BACKOFF_S = 1.0  # first pause between attempts; doubled each time, at most 8x
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)
_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL}
_NOTHING = ((lambda n: b""), (lambda: None))  # read and finish of a stream with no bytes left


class DownloadError(EfficientPSError):
    """A download failed; ``unreachable`` says the server could not be reached at all (no network?)."""

    def __init__(self, url: str, reason: str, unreachable: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.unreachable = url, reason, unreachable


@dataclass(frozen=True)
class Downloaded:
    """A completed download."""

    path: Path
    size: int  # bytes
    sha256: str  # hex digest of the whole file
    resumed_from: int  # bytes that an earlier attempt or run had already fetched


class _Transient(Exception):
    """Worth another attempt (resuming)."""


class _Permanent(Exception):
    """This URL will not work as it is."""


class _Unreachable(Exception):
    """No connection could be made."""


@dataclass
class _Stream:
    start: int  # offset of the first byte the server sends
    total: int | None  # size of the whole file, when the server says
    read: Callable[[int], bytes]
    finish: Callable[[], None]  # ends the transfer; raises when the server reports it failed
    abort: Callable[[], None]  # drops the connection (after a failure on our side)


def download(url: str, dest: Path, timeout: float = 30.0, retries: int = 3, progress: Progress | None = None,
             expected_size: int | None = None, expected_sha256: str | None = None) -> Downloaded:
    """Fetch ``url`` to ``dest`` (atomically: see the module docstring), resuming a ``.part`` left for this URL.

    Args:
        timeout: seconds to wait for a connection or for the next bytes.
        retries: attempts for transient failures (at least 1).
        progress: called after every chunk.
        expected_size, expected_sha256: checked when given; a mismatch deletes the download.

    Raises:
        DownloadError: one line naming the URL and what went wrong (``unreachable`` set when no connection
            could be made).
    """
    part, note = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
    with _local(dest.parent):
        dest.parent.mkdir(parents=True, exist_ok=True)
        if part.exists() and _part_url(note) != url:  # a leftover of another source: start afresh
            part.unlink()
        note.write_text(json.dumps({"url": url}))
    resumed_from = part.stat().st_size if part.exists() else 0
    for attempt in range(1, max(retries, 1) + 1):
        try:
            _transfer(url, part, timeout, progress)
            break
        except Exception as err:  # every failure is classified; nothing escapes unnamed
            kind, text = _classify(err, timeout)
            if kind != "transient":
                _drop_if_empty(part, note)
                raise DownloadError(url, text, unreachable=kind == "unreachable") from None
            if attempt >= retries:
                kept = part.stat().st_size if part.exists() else 0
                raise DownloadError(url, f"{text}; gave up after {attempt} attempt(s) ({_mb(kept)} kept in "
                                         f"{part.name}: the same command resumes from there)") from None
            time.sleep(BACKOFF_S * 2 ** min(attempt - 1, 3))
    size, digest = part.stat().st_size, file_sha256(part)
    problem = (f"{size} bytes where {expected_size} were expected" if expected_size not in (None, size) else
               f"SHA-256 {digest} where {expected_sha256} was expected" if expected_sha256 not in (None, digest) else "")
    if problem:
        part.unlink()
        note.unlink(missing_ok=True)
        raise DownloadError(url, f"the download is not the published file ({problem}); it was deleted")
    os.replace(part, dest)
    note.unlink(missing_ok=True)
    return Downloaded(dest, size, digest, resumed_from)


def _transfer(url: str, part: Path, timeout: float, progress: Progress | None) -> None:
    """One attempt: append to ``part`` from its current size (or from where the server restarts)."""
    have = part.stat().st_size if part.exists() else 0
    try:
        stream = _open(url, have, timeout)
    except (TimeoutError, urllib.error.URLError) as err:  # no answer at all: unreachable, not worth a retry
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        if isinstance(reason, TimeoutError):
            raise _Unreachable(f"no answer within {timeout:g} s") from None
        raise
    try:
        done = _write(stream, part, have, progress)
    except BaseException:
        stream.abort()
        raise
    stream.finish()
    if stream.total is not None and done != stream.total:
        raise _Transient(f"the connection closed after {_mb(done)} of {_mb(stream.total)}")


def _write(stream: _Stream, part: Path, have: int, progress: Progress | None) -> int:
    """Copy the stream into ``part`` from ``stream.start`` on; returns the bytes ``part`` then holds."""
    if stream.start > have:
        raise _Transient(f"the server resumed at byte {stream.start}, after the {have} kept")
    with _local(part):
        f = open(part, "r+b" if part.exists() else "wb")
    with f:
        with _local(part):
            f.truncate(stream.start)
            f.seek(stream.start)
        done = stream.start
        while chunk := stream.read(CHUNK):
            with _local(part):
                f.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, stream.total)
        with _local(part):
            f.flush()
            os.fsync(f.fileno())
    return done


@contextmanager
def _local(path: Path) -> Iterator[None]:
    """Errors of our own disk (full, read-only) are no network condition: they stop the fetch, named."""
    try:
        yield
    except OSError as err:
        raise EfficientPSError(f"cannot write {path}: {err.strerror or err}") from None


def _open(url: str, offset: int, timeout: float) -> _Stream:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return _open_http(url, offset, timeout)
    if scheme == "ftp":
        return _open_ftp(url, offset, timeout)
    raise _Permanent(f"unsupported URL scheme {scheme!r} (http, https and ftp are)")


def _open_http(url: str, offset: int, timeout: float) -> _Stream:
    headers = {"User-Agent": "efficientps", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing after the bytes we have: complete, or another file
            if _range_total(err.headers.get("Content-Range", "")) == offset:
                return _Stream(offset, offset, *_NOTHING, _NOTHING[1])
            return _open_http(url, 0, timeout)  # the kept bytes do not fit: the whole file again
        kind = _Transient if err.code in (408, 425, 429) or err.code >= 500 else _Permanent
        raise kind(f"HTTP {err.code} {err.reason}") from None
    length = response.headers.get("Content-Length")
    if response.status == 206:
        start, total = _content_range(response.headers.get("Content-Range", ""))
    else:  # 200: the server ignored the range (or none was asked): the whole file from byte 0
        start, total = 0, int(length) if length and length.isdigit() else None
    return _Stream(start, total, response.read, response.close, response.close)


def _content_range(value: str) -> tuple[int, int | None]:
    """(first byte, total) of ``bytes FIRST-LAST/TOTAL``."""
    try:
        first = int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        raise _Transient(f"unreadable Content-Range {value!r}") from None
    return first, _range_total(value)


def _range_total(value: str) -> int | None:
    total = value.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _open_ftp(url: str, offset: int, timeout: float) -> _Stream:
    parts = urllib.parse.urlsplit(url)
    ftp = ftplib.FTP(timeout=timeout)
    try:
        ftp.connect(parts.hostname or "", parts.port or 21)
        ftp.login(urllib.parse.unquote(parts.username or "anonymous"),
                  urllib.parse.unquote(parts.password or "anonymous@"))
        ftp.voidcmd("TYPE I")
        path = urllib.parse.unquote(parts.path)
        total = _ftp_size(ftp, path)
        if total is not None and offset > total:  # the kept bytes do not fit: the whole file again
            offset = 0
        if total is not None and offset == total > 0:
            ftp.quit()
            return _Stream(offset, total, *_NOTHING, _NOTHING[1])
        try:
            connection = ftp.transfercmd(f"RETR {path}", rest=offset or None)
        except ftplib.error_perm as err:
            if not offset or str(err).startswith("550"):
                raise
            offset, connection = 0, ftp.transfercmd(f"RETR {path}")  # no REST here: the whole file again
    except BaseException:
        ftp.close()
        raise
    reader = connection.makefile("rb")

    def abort() -> None:
        reader.close()
        connection.close()
        ftp.close()

    def finish() -> None:
        reader.close()
        connection.close()
        try:
            ftp.voidresp()  # 226 when the server sent everything; 426/451 when it aborted
        finally:
            ftp.close()

    return _Stream(offset, total, reader.read, finish, abort)


def _ftp_size(ftp: ftplib.FTP, path: str) -> int | None:
    """The file's size by SIZE, None where the server does not tell (550, no such file, is raised)."""
    try:
        return ftp.size(path)
    except ftplib.error_perm as err:
        if str(err).startswith("550"):
            raise
        return None


def _classify(err: BaseException, timeout: float) -> tuple[str, str]:
    """(kind, one-line reason) of a failure: ``unreachable``, ``permanent`` or ``transient``."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else _Transient(str(err.reason))
    if isinstance(err, _Permanent):
        return "permanent", str(err)
    if isinstance(err, _Transient):
        return "transient", str(err)
    if isinstance(err, _Unreachable):
        return "unreachable", str(err)
    if isinstance(err, socket.gaierror):
        return "unreachable", "the host name does not resolve: no network?"
    if isinstance(err, ConnectionRefusedError):
        return "unreachable", "connection refused"
    if isinstance(err, OSError) and err.errno in _UNREACHABLE_ERRNOS:
        return "unreachable", f"no route to the server ({os.strerror(err.errno)})"
    if isinstance(err, ssl.SSLError):
        return "permanent", f"TLS failed ({err.reason or err})"
    if isinstance(err, ftplib.error_perm):
        return "permanent", f"FTP {str(err).strip()}"
    if isinstance(err, ftplib.error_temp):
        return "transient", f"FTP {str(err).strip()}"
    if isinstance(err, TimeoutError):
        return "transient", f"no data for {timeout:g} s"
    if isinstance(err, (ConnectionError, http.client.HTTPException, ftplib.Error, EOFError, OSError)):
        return "transient", f"the connection broke ({type(err).__name__}: {' '.join(str(err).split())[:120]})"
    raise err  # a bug, not a network condition: let the error funnel report it


def _drop_if_empty(part: Path, note: Path) -> None:
    if not part.exists() or part.stat().st_size == 0:
        part.unlink(missing_ok=True)
        note.unlink(missing_ok=True)


def _part_url(note: Path) -> str | None:
    try:
        return json.loads(note.read_text()).get("url")
    except (OSError, ValueError, AttributeError):
        return None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
