"""``efficientps weights list/fetch`` and ``--weights NAME``, end to end against loopback HTTP and FTP servers
serving a stand-in of the released checkpoint (the official key layout, fp16 values)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from efficientps_app.cli import main
from efficientps_app.errors import WeightsError
from efficientps_app.weights import catalogue
from efficientps_app.weights import download as download_module
from efficientps_app.weights.cache import converted_path, read_record, resolve_weights
from efficientps_app.weights.catalogue import Source
from model.weights import read_metadata
from tests.efficientps_app.weights.servers import FtpServer, HttpServer, Served, closed_port
from tests.official_checkpoint import fake_state, save_official_checkpoint


@pytest.fixture(scope="module")
def official_bytes(tmp_path_factory) -> bytes:
    """The stand-in checkpoint as served: mmcv's layout, every official key and shape (about 87 MB)."""
    return save_official_checkpoint(tmp_path_factory.mktemp("srv") / "model.pth", fake_state(), half=True).read_bytes()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EFFICIENTPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(download_module, "BACKOFF_S", 0.0)
    return tmp_path / "cache"


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _nothing_usable(name: str, cache: Path) -> None:
    """No file in the cache that --weights NAME would take, and no complete-looking download."""
    with pytest.raises(WeightsError, match=f"efficientps weights fetch {name}"):
        resolve_weights(name)
    files = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert all(p.name.endswith((".part", ".part.json")) for p in files), files


@pytest.mark.slow  # converts the full-size stand-in (about 7 s)
def test_fetch_over_http_resumes_converts_and_serves_weights_cityscapes(official_bytes, cache, capsys):
    cut = len(official_bytes) // 3
    with HttpServer() as server:
        server.files["/model_cityscapes.pth"] = Served(official_bytes, drop_after=[cut])
        url = server.url("/model_cityscapes.pth")
        code, _, err = _run(["weights", "fetch", "cityscapes", "--url", url, "--retries", "2"], capsys)
        assert code == 0, err
        assert [(s.range, s.sent) for s in server.log] == [(None, cut), (f"bytes={cut}-", len(official_bytes) - cut)]
        sha = hashlib.sha256(official_bytes).hexdigest()
        assert f"SHA-256 {sha}" in err and f"({len(official_bytes)} bytes)" in err and "b5-cityscapes" in err
        record = read_record("cityscapes")
        assert (record.url, record.size, record.sha256) == (url, len(official_bytes), sha)
        assert Path(record.file).read_bytes() == official_bytes  # the original is kept, verified
        code, _, err = _run(["weights", "fetch", "cityscapes", "--url", url], capsys)
        assert code == 0 and "already in the cache" in err and len(server.log) == 2  # no second download
    assert resolve_weights("cityscapes") == converted_path("cityscapes")
    meta = read_metadata(converted_path("cityscapes"))
    assert (meta["input_size"], meta["source_sha256"], meta["release"]) == ("1024x2048", sha, "cityscapes")
    code, out, _ = _run(["model-info", "cityscapes", "--json"], capsys)
    assert code == 0 and abs(json.loads(out)["total"] - 42.99e6) < 0.05e6
    code, out, _ = _run(["weights", "list", "--json"], capsys)
    listed = {w["name"]: w for w in json.loads(out)["weights"]}
    assert listed["cityscapes"]["cached"] and listed["cityscapes"]["sha256"] == sha
    assert not listed["kitti"]["cached"] and json.loads(out)["default"] == "cityscapes"


@pytest.mark.slow  # converts the full-size stand-in (about 7 s)
def test_fetch_kitti_over_ftp_resumes_with_its_own_inference_size(official_bytes, cache, tmp_path, capsys):
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "model_kitti.pth").write_bytes(official_bytes)
    with FtpServer(root) as server:
        server.drop_after = [len(official_bytes) // 2]
        code, _, err = _run(["weights", "fetch", "kitti", "--url", server.url("model_kitti.pth")], capsys)
    assert code == 0, err
    half = len(official_bytes) // 2
    assert [(s.range, s.sent) for s in server.log] == [("0", half), (str(half), len(official_bytes) - half)]
    assert read_metadata(resolve_weights("kitti"))["input_size"] == "384x1280"
    assert "next: efficientps segment VIDEO.mp4 --weights kitti" in err


@pytest.mark.parametrize("case, message", [
    ("404", "HTTP 404 Not Found"),
    ("cut off every time", "closed after .* MB of .* MB; gave up after 2 attempt"),
    ("truncated file", "downloaded, but not usable .*not a PyTorch checkpoint.*deleted"),
    ("not a checkpoint", "downloaded, but not usable .*not a PyTorch checkpoint.*deleted"),
    ("closed port", "connection refused"),
])
def test_failed_fetches_say_why_in_one_line_and_leave_nothing_usable(official_bytes, cache, capsys, tmp_path, case,
                                                                     message):
    with HttpServer() as server:
        served = {"404": Served(status=404),
                  "cut off every time": Served(official_bytes, drop_after=[1 << 20] * 2),
                  "truncated file": Served(official_bytes[: len(official_bytes) // 2]),
                  "not a checkpoint": Served(b"<!DOCTYPE html><html>link expired</html>"),
                  "closed port": None}[case]
        url = f"http://127.0.0.1:{closed_port()}/m.pth" if served is None else server.url("/model_cityscapes.pth")
        if served is not None:
            server.files["/model_cityscapes.pth"] = served
        code, _, err = _run(["weights", "fetch", "--url", url, "--retries", "2"], capsys)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1, err
    assert re.search(message, lines[0]), lines[0]
    assert f"By hand: download {url}, then run 'efficientps weights fetch cityscapes --file " in lines[0]
    _nothing_usable("cityscapes", cache)
    image = tmp_path / "x.png"
    Image.new("RGB", (64, 32)).save(image)
    code, _, err = _run(["segment", str(image), "-o", str(tmp_path / "out"), "--weights", "cityscapes"], capsys)
    assert code == 1 and "fetch them once with 'efficientps weights fetch cityscapes'" in err


@pytest.mark.slow  # converts the full-size stand-in (about 7 s)
def test_without_a_network_the_manual_route_works(official_bytes, cache, tmp_path, capsys, monkeypatch):
    offline = (Source(f"ftp://127.0.0.1:{closed_port()}/model_cityscapes.pth", "mirror"),
               Source("https://efficientps-test.invalid/efficientPS_cityscapes.zip", "authors"))
    monkeypatch.setitem(catalogue.CATALOGUE, "cityscapes",
                        dataclasses.replace(catalogue.CATALOGUE["cityscapes"], sources=offline))
    code, _, err = _run(["weights", "fetch", "cityscapes"], capsys)
    assert code == 1 and "could not fetch cityscapes: " in err and "By hand: download ftp://127.0.0.1" in err
    assert "'efficientps weights fetch cityscapes --file model_cityscapes.pth'" in err
    _nothing_usable("cityscapes", cache)
    by_hand = tmp_path / "model_cityscapes.pth"
    by_hand.write_bytes(official_bytes)
    code, _, err = _run(["weights", "fetch", "cityscapes", "--file", str(by_hand)], capsys)
    assert code == 0, err
    assert read_record("cityscapes").url == by_hand.resolve().as_uri() and by_hand.exists()
    assert resolve_weights("cityscapes").is_file()


def test_list_names_sources_license_and_the_cache(cache, capsys):
    code, out, _ = _run(["weights", "list"], capsys)
    assert code == 0
    for text in ("cityscapes* ", "cityscapes (* the default of weights fetch): not cached", "kitti", "1024x2048", "384x1280", "GPLv3", "academic", str(cache),
                 "ftp://opendrdata.csd.auth.gr/perception/panoptic_segmentation/models/model_cityscapes.pth",
                 "ftp://opendrdata.csd.auth.gr/perception/panoptic_segmentation/models/model_kitti.pth",
                 "not cached: efficientps weights fetch kitti"):
        assert text in out, text
    assert _run(["weights", "fetch", "mapillary"], capsys)[0] == 1


def test_the_cache_folder_follows_the_platform(monkeypatch, tmp_path):
    from efficientps_app.weights import cache as cache_module

    monkeypatch.delenv("EFFICIENTPS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache_module.sys, "platform", "linux")
    assert cache_module.cache_dir() == tmp_path / "xdg" / "efficientps"
    monkeypatch.setattr(cache_module.sys, "platform", "darwin")
    assert cache_module.cache_dir() == Path.home() / "Library" / "Caches" / "efficientps"
    monkeypatch.setattr(cache_module.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert cache_module.cache_dir() == tmp_path / "local" / "efficientps" / "Cache"
    monkeypatch.setenv("EFFICIENTPS_CACHE", os.fspath(tmp_path / "mine"))
    assert cache_module.cache_dir() == tmp_path / "mine"


def test_an_unwritable_cache_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("EFFICIENTPS_CACHE", str(tmp_path / "file" / "cache"))
    code, _, err = _run(["weights", "fetch", "kitti"], capsys)
    assert code == 1 and "cannot write to the weights cache" in err and "set EFFICIENTPS_CACHE" in err


def test_the_catalogue_names_the_releases_and_the_cli_starts_without_torch():
    import subprocess
    import sys

    from model.official import RELEASES

    assert set(catalogue.CATALOGUE) == set(RELEASES) and catalogue.DEFAULT in RELEASES
    code = "import sys, efficientps_app.cli; sys.exit('torch' in sys.modules)"
    root = str(Path(__file__).resolve().parents[3])
    assert subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": root}).returncode == 0
