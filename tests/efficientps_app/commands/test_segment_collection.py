"""Collection runs of ``segment``: two processes under torchrun, ``--shard`` by hand, the manifest, and a killed
run resumed with ``--skip-existing``; the outputs always equal those of one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from efficientps_app.assets import DEMO_WEIGHTS
from efficientps_app.cli import main
from efficientps_app.outputs.manifest import MANIFEST_DIR, read_manifest

REPO = Path(__file__).resolve().parents[3]
OUTPUT_OPTIONS = ["--save-json", "--masks", "rle", "--save-panoptic", "--save-semantic", "--save-crops"]
IMAGES, VIDEOS = 6, 2


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """A folder of 6 synthetic street images and 2 short synthetic drives (1 s and 2 s at 8 fps, 64x128)."""
    root = tmp_path_factory.mktemp("collection")
    assert main(["data", "synth", str(root / "ds"), "--train", "0", "--val", str(IMAGES), "--size", "64", "128"]) == 0
    folder = root / "in"
    folder.mkdir()
    for image in sorted((root / "ds" / "leftImg8bit" / "val").rglob("*.png")):
        image.rename(folder / image.name)
    for seed, seconds in enumerate((1, 2)):
        assert main(["data", "synth-video", str(folder / f"drive{seed}.mp4"), "--seconds", str(seconds), "--fps", "8",
                     "--size", "64", "128", "--seed", str(seed)]) == 0
    return folder


def _args(source: Path, out: Path, *extra: str) -> list[str]:
    """One thread per process everywhere: the same arithmetic whatever the number of processes (scores would
    differ in the 5th decimal with other thread counts)."""
    return ["segment", str(source), "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--device", "cpu",
            "--threads", "1", *OUTPUT_OPTIONS, *extra]


def _torchrun(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "efficientps_app", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs)


def _files(out: Path) -> dict[str, bytes]:
    """Every output file's bytes, by path below ``out`` (the manifest left out)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and MANIFEST_DIR not in p.relative_to(out).parts}


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for p in sorted((out / MANIFEST_DIR).glob("*.jsonl")) for x in p.read_text().splitlines()]


@pytest.fixture(scope="module")
def single(collection, tmp_path_factory) -> Path:
    """The collection segmented by one process."""
    out = tmp_path_factory.mktemp("single") / "out"
    assert main(_args(collection, out, "--shard", "0/1", "-q")) == 0
    return out


@pytest.mark.slow
def test_torchrun_two_processes_do_every_input_once_and_equal_one_process(collection, single, tmp_path):
    out = tmp_path / "out"
    proc = _torchrun(_args(collection, out))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    records = _lines(out)
    names = sorted(r["input"] for r in records)
    assert names == sorted(p.name for p in collection.iterdir())  # every input exactly once
    assert {r["state"] for r in records} == {"done"} and {r["shard"] for r in records} == {"0-of-2", "1-of-2"}
    assert f"{IMAGES + VIDEOS} inputs: {IMAGES + VIDEOS} done" in err and err.count("inputs:") == 1  # rank 0 only
    assert _files(out) == _files(single)
    first = json.loads((out / "drive0.jsonl").read_text().splitlines()[0])
    assert all(s["segmentation"]["size"] == [64, 128] for s in first["segments"])


def test_shards_by_hand_split_the_inputs_and_equal_one_process(collection, single, tmp_path, capsys):
    out = tmp_path / "out"
    for index in (0, 1):
        assert main(_args(collection, out, "--shard", f"{index}/2", "-q")) == 0
    shards = {}
    for record in _lines(out):
        shards.setdefault(record["shard"], []).append(record["input"])
    assert sorted(shards) == ["0-of-2", "1-of-2"] and all(shards.values())
    assert sorted(shards["0-of-2"] + shards["1-of-2"]) == sorted(p.name for p in collection.iterdir())
    assert _files(out) == _files(single)
    code = main(_args(collection, out, "--shard", "0/2"))
    assert code == 1 and "already exist" in capsys.readouterr().err  # a rerun without --skip-existing refuses


@pytest.mark.slow
def test_killed_torchrun_resumes_without_redoing_finished_files(collection, single, tmp_path):
    out = tmp_path / "out"
    proc = _torchrun(_args(collection, out))
    deadline = time.monotonic() + 240
    while not any(r.state == "done" for r in read_manifest(out).values()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before any input was done"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # what a cluster scheduler does at its time limit: torchrun ends its workers
    proc.communicate(timeout=60)
    before = read_manifest(out)
    assert 0 < len(before) < IMAGES + VIDEOS, "killed too late to test resuming"
    stamps = {name: [(out / o).stat().st_mtime_ns for o in r.outputs] for name, r in before.items()}
    resumed = _torchrun(_args(collection, out, "--skip-existing"))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]
    assert f"{len(before)} already done" in err
    records = _lines(out)
    assert sorted(r["input"] for r in records) == sorted(p.name for p in collection.iterdir())  # none redone
    for name, record in before.items():
        assert [(out / o).stat().st_mtime_ns for o in record.outputs] == stamps[name]
    assert _files(out) == _files(single)  # no half-written file left either


def test_skip_existing_redoes_a_failed_input_and_a_missing_output(collection, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    images = sorted(collection.glob("*.png"))[:2]
    for image in images:
        (src / image.name).write_bytes(image.read_bytes())
    (src / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    code = main(_args(src, out, "--skip-existing"))
    err = capsys.readouterr().err
    assert code == 3 and "2 done" in err and "1 failed" in err and "broken.mp4" in err  # recorded, not fatal
    assert read_manifest(out)["broken.mp4"].state == "failed"
    (out / images[0].name).unlink()  # a done input whose output went missing counts as not done
    (src / "broken.mp4").unlink()
    assert main(_args(src, out, "--skip-existing", "-q")) == 0
    records = read_manifest(out)
    assert records[images[0].name].state == "done" and (out / images[0].name).is_file()
    assert sum(r["input"] == images[1].name for r in _lines(out)) == 1  # the other one was not redone
    capsys.readouterr()
    assert main(_args(src, out, "--skip-existing")) == 0  # nothing left: done without loading the model
    err = capsys.readouterr().err
    assert "2 inputs: 0 done, 2 already done, 0 failed" in err and "segmenting with" not in err


def test_several_videos_with_an_output_folder_are_a_collection(collection, tmp_path, capsys):
    videos = [str(collection / "drive0.mp4"), str(collection / "drive1.mp4")]
    out = tmp_path / "out"
    assert main(["segment", *videos, "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--max-frames", "2"]) == 0
    assert "2 inputs: 2 done" in capsys.readouterr().err
    assert sorted(read_manifest(out)) == ["drive0.mp4", "drive1.mp4"] and (out / "drive1.mp4").is_file()
    assert main(["segment", *videos, "--weights", str(DEMO_WEIGHTS)]) == 1  # without -o: not one source
    assert "drive0.mp4: not an image file" in capsys.readouterr().err


def test_collection_refusals(collection, tmp_path, capsys):
    base = ["--weights", str(DEMO_WEIGHTS), "--device", "cpu"]
    cases = [
        (["segment", str(collection), "--shard", "2/2", "-o", str(tmp_path / "o"), *base], "--shard 2/2"),
        (["segment", str(collection), "--shard", "0/1", *base], "needs -o"),
        (["segment", str(collection), "0", "-o", str(tmp_path / "o"), *base], "live source"),
        (["segment", str(collection), "--skip-existing", "-o", str(tmp_path / "o.mp4"), *base], "not one video"),
        (["segment", str(collection / "drive0.mp4"), "-o", str(tmp_path / "o"), "--masks", "rle", *base],
         "goes with --save-json"),
    ]
    for args, message in cases:
        assert main(args) == 1, args
        assert message in capsys.readouterr().err
