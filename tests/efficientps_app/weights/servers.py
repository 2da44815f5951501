"""Download servers for the tests, on the loopback interface: HTTP (http.server, with byte ranges) and FTP
(pyftpdlib, with REST). Both can break a transfer off after a given number of bytes and log what they sent."""

from __future__ import annotations

import socket
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Served:
    """A file the HTTP server serves.

    Attributes:
        data: the bytes.
        status: answer this instead of the file (e.g. 404).
        ranges: honour ``Range`` requests (206); False answers the whole file (200) as simple servers do.
        drop_after: for the next requests in turn, send only this many body bytes, then close the connection.
    """

    data: bytes = b""
    status: int = 200
    ranges: bool = True
    drop_after: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Sent:
    """One request as the server saw it: the path, the ``Range`` header (or FTP REST offset) and the body bytes
    it sent."""

    path: str
    range: str | None
    sent: int


class HttpServer:
    """``with HttpServer() as s: s.files["/m.pth"] = Served(data); s.url("/m.pth")``."""

    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.log: list[Sent] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def __enter__(self) -> HttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(owner: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            served = owner.files.get(self.path.split("?")[0])
            asked = self.headers.get("Range")
            if served is None or served.status != 200:
                self.send_error(404 if served is None else served.status)
                owner.log.append(Sent(self.path, asked, 0))
                return
            data, start = served.data, 0
            if asked and served.ranges:
                start = int(asked.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    owner.log.append(Sent(self.path, asked, 0))
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = memoryview(data)[start:]
            if served.drop_after:
                body = body[: served.drop_after.pop(0)]
                self.close_connection = True
            for i in range(0, len(body), 1 << 20):
                self.wfile.write(body[i : i + (1 << 20)])
            owner.log.append(Sent(self.path, asked, len(body)))

    return Handler


class FtpServer:
    """Anonymous read-only FTP over ``root``; ``drop_after`` breaks the next transfers off after so many bytes."""

    def __init__(self, root: Path) -> None:
        pytest.importorskip("pyftpdlib", reason="the FTP tests need pyftpdlib (the dev extra)")
        with warnings.catch_warnings():  # pyftpdlib is built on asyncore/asynchat, deprecated in Python 3.11
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import DTPHandler, FTPHandler
            from pyftpdlib.servers import FTPServer

        self.log: list[Sent] = []
        self.drop_after: list[int] = []
        owner = self

        class Data(DTPHandler):
            limit: int | None | bool = False  # False: not decided yet (the first send of a file decides)

            def send(self, data: bytes) -> int:
                if self.limit is False:  # (``cmd`` is only set after the first send: the file tells a RETR)
                    self.limit = owner.drop_after.pop(0) if owner.drop_after and self.file_obj else None
                if self.limit is not None and self.tot_bytes_sent + len(data) >= self.limit:
                    sent = super().send(data[: self.limit - self.tot_bytes_sent])
                    self._resp = ("426 Connection closed; transfer aborted.", lambda *a, **k: None)
                    self.close()  # the server hangs up in the middle of the file, as a real one says
                    return sent
                return super().send(data)

            def close(self) -> None:
                if not self._closed and self.file_obj is not None and not self.receive:
                    owner.log.append(Sent(Path(self.file_obj.name).name, str(owner.rest), self.tot_bytes_sent))
                super().close()

        class Control(FTPHandler):
            def ftp_RETR(self, file: str) -> str | None:  # noqa: N802 (pyftpdlib's name)
                owner.rest = self._restart_position
                return super().ftp_RETR(file)

        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(str(root))
        Control.authorizer, Control.dtp_handler, Control.banner = authorizer, Data, "test server"
        Control.use_sendfile = False  # every byte goes through Data.send, where the cut happens
        self.rest = 0
        self._server = FTPServer(("127.0.0.1", 0), Control)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def url(self, name: str) -> str:
        return f"ftp://127.0.0.1:{self._server.address[1]}/{name}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._server.ioloop.loop(timeout=0.05, blocking=False)
        self._server.close_all()

    def __enter__(self) -> FtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
