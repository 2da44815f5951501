"""The downloader against servers on the loopback interface: resume (byte counts), retries, 404, no network."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from efficientps_app.errors import EfficientPSError
from efficientps_app.weights import download as download_module
from efficientps_app.weights.download import DownloadError, download
from tests.efficientps_app.weights.servers import FtpServer, HttpServer, Served, closed_port

PAYLOAD = os.urandom(3_000_000)  # three reads of CHUNK
CUT = 1_000_000


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch):
    monkeypatch.setattr(download_module, "BACKOFF_S", 0.0)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_http_transfer_cut_off_is_resumed_with_a_range_request(tmp_path):
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD, drop_after=[CUT])
        got = download(server.url("/model.pth"), tmp_path / "model.pth", retries=2)
    assert [(s.range, s.sent) for s in server.log] == [(None, CUT), (f"bytes={CUT}-", len(PAYLOAD) - CUT)]
    assert got.path.read_bytes() == PAYLOAD and (got.size, got.sha256) == (len(PAYLOAD), _digest(PAYLOAD))
    assert _only(tmp_path) == ["model.pth"]  # no .part left behind


def test_an_interrupted_run_is_resumed_by_the_next_one(tmp_path):
    dest = tmp_path / "model.pth"
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD, drop_after=[CUT])
        with pytest.raises(DownloadError, match=r"gave up after 1 attempt\(s\) \(1\.0 MB kept in model\.pth\.part"):
            download(server.url("/model.pth"), dest, retries=1)
        assert not dest.exists() and (tmp_path / "model.pth.part").stat().st_size == CUT
        got = download(server.url("/model.pth"), dest, retries=1)
    assert got.resumed_from == CUT and got.path.read_bytes() == PAYLOAD
    assert [s.sent for s in server.log] == [CUT, len(PAYLOAD) - CUT]


def test_a_server_without_ranges_sends_the_whole_file_again(tmp_path):
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD, ranges=False, drop_after=[CUT])
        got = download(server.url("/model.pth"), tmp_path / "model.pth", retries=2)
    assert [s.sent for s in server.log] == [CUT, len(PAYLOAD)] and got.path.read_bytes() == PAYLOAD


def test_a_part_of_another_url_is_not_resumed(tmp_path):
    (tmp_path / "model.pth.part").write_bytes(b"x" * CUT)
    (tmp_path / "model.pth.part.json").write_text(json.dumps({"url": "http://elsewhere/model.pth"}))
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD)
        got = download(server.url("/model.pth"), tmp_path / "model.pth")
    assert server.log[0].range is None and got.path.read_bytes() == PAYLOAD


def test_a_complete_part_is_finished_without_a_transfer(tmp_path):
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD)
        url = server.url("/model.pth")
        (tmp_path / "model.pth.part").write_bytes(PAYLOAD)
        (tmp_path / "model.pth.part.json").write_text(json.dumps({"url": url}))
        got = download(url, tmp_path / "model.pth")
    assert [(s.range, s.sent) for s in server.log] == [(f"bytes={len(PAYLOAD)}-", 0)]
    assert got.sha256 == _digest(PAYLOAD)


def test_ftp_transfer_cut_off_is_resumed_with_rest(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "model_kitti.pth").write_bytes(PAYLOAD)
    with FtpServer(root) as server:
        server.drop_after = [CUT]
        got = download(server.url("model_kitti.pth"), tmp_path / "model_kitti.pth", retries=2)
    assert [(s.range, s.sent) for s in server.log] == [("0", CUT), (str(CUT), len(PAYLOAD) - CUT)]
    assert got.path.read_bytes() == PAYLOAD and got.sha256 == _digest(PAYLOAD)


def test_ftp_missing_file_is_permanent(tmp_path):
    (tmp_path / "srv").mkdir()
    with FtpServer(tmp_path / "srv") as server, pytest.raises(DownloadError, match="FTP 550") as err:
        download(server.url("model_kitti.pth"), tmp_path / "model_kitti.pth", retries=3)
    assert not err.value.unreachable and _only(tmp_path) == ["srv"]


def test_http_404_is_not_retried_and_leaves_nothing(tmp_path):
    with HttpServer() as server, pytest.raises(DownloadError, match="HTTP 404") as err:
        download(server.url("/gone.pth"), tmp_path / "gone.pth", retries=3)
    assert len(server.log) == 1 and not err.value.unreachable and _only(tmp_path) == []


def test_a_transfer_that_always_breaks_off_gives_up_after_the_retries(tmp_path):
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD, drop_after=[CUT // 2] * 3)
        with pytest.raises(DownloadError, match=r"closed after 1\.0 MB of 3\.0 MB; gave up after 2 attempt"):
            download(server.url("/model.pth"), tmp_path / "model.pth", retries=2)
    assert _only(tmp_path) == ["model.pth.part", "model.pth.part.json"]  # resumable, and not mistaken for complete
    assert (tmp_path / "model.pth.part").stat().st_size == CUT


def test_a_published_size_or_checksum_that_does_not_match_deletes_the_download(tmp_path):
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD)
        with pytest.raises(DownloadError, match="not the published file .*SHA-256"):
            download(server.url("/model.pth"), tmp_path / "model.pth", expected_sha256="0" * 64)
        with pytest.raises(DownloadError, match="not the published file .*3000000 bytes where 5 were expected"):
            download(server.url("/model.pth"), tmp_path / "model.pth", expected_size=5)
    assert _only(tmp_path) == []


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:{port}/model.pth", "connection refused"),
    ("ftp://127.0.0.1:{port}/model.pth", "connection refused"),
    ("http://efficientps-test.invalid/model.pth", "does not resolve"),  # RFC 6761: never resolves
])
def test_no_network_is_said_at_once(tmp_path, url, reason):
    url = url.format(port=closed_port())  # (chosen here, not at collection: xdist workers must agree on ids)
    with pytest.raises(DownloadError, match=reason) as err:
        download(url, tmp_path / "model.pth", retries=3)
    assert err.value.unreachable and _only(tmp_path) == []


def test_a_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (the backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(DownloadError, match="no answer within 1 s") as err:
            download(f"http://127.0.0.1:{silent.getsockname()[1]}/m.pth", tmp_path / "m.pth", timeout=1, retries=3)
    assert err.value.unreachable


def test_a_disk_problem_is_named_and_not_retried(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    with HttpServer() as server:
        server.files["/model.pth"] = Served(PAYLOAD)
        with pytest.raises(EfficientPSError, match="cannot write .*not-a-folder") as err:
            download(server.url("/model.pth"), tmp_path / "not-a-folder" / "model.pth", retries=3)
    assert not isinstance(err.value, DownloadError) and server.log == []
