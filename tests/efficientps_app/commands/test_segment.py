"""``efficientps segment`` end to end: outputs, formats, refusals, exit codes, interruptions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from efficientps_app.cli import main
from efficientps_app.outputs.files import temp_path
from tests.media import make_video, probe


def _images(folder: Path, n: int = 2, size: tuple[int, int] = (64, 96)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"img{i}_leftImg8bit.png")
    return folder


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_folder_to_overlays_panoptic_and_jsonl(tiny_weights, tmp_path, capsys):
    src = _images(tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = run(["segment", str(src), "-o", str(out), "--weights", str(tiny_weights),
                             "--save-panoptic", "--save-json", "--device", "cpu"], capsys)
    assert code == 0 and stdout == "" and "2 frames" in err
    for i in range(2):
        overlay = np.asarray(Image.open(out / f"img{i}_leftImg8bit.png"))
        assert overlay.shape == (64, 96, 3)
    data = json.loads((out / "panoptic.json").read_text())
    assert [a["image_id"] for a in data["annotations"]] == ["img0", "img1"]
    assert {c["id"] for c in data["categories"]} >= {7, 26}  # labelIds (road, car)
    png = np.asarray(Image.open(out / "panoptic" / "img0.png")).astype(np.int64)
    ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
    seg_ids = {s["id"] for s in data["annotations"][0]["segments_info"]}
    assert set(np.unique(ids).tolist()) - {0} == seg_ids
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == [0, 1] and lines[0]["width"] == 96
    assert sum(s["area"] for s in lines[0]["segments"]) == int((ids > 0).sum())


def test_default_run_folder_with_arguments(tiny_weights, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = _images(tmp_path / "in", n=1)
    for expected in ("predict", "predict2"):
        code, _, _ = run(["segment", str(src), "--weights", str(tiny_weights), "-q"], capsys)
        run_dir = tmp_path / "runs" / "segment" / expected
        assert code == 0 and (run_dir / "img0_leftImg8bit.png").is_file()
        assert yaml.safe_load((run_dir / "args.yaml").read_text())["source"] == str(src)


def test_video_to_mp4_with_audio_timing_and_jsonl(tiny_weights, tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", frames=10, size=(64, 96), fps=10, audio="aac")
    out = tmp_path / "o" / "seg.mp4"
    code, _, err = run(["segment", str(src), "-o", str(out), "--weights", str(tiny_weights), "--save-json",
                        "--side-by-side"], capsys)
    assert code == 0, err
    info = probe(out)
    assert info["size"] == (64, 192) and info["audio_codec"] == "aac"
    assert info["times"] == pytest.approx(probe(src)["times"])
    lines = (tmp_path / "o" / "seg.jsonl").read_text().splitlines()
    assert [json.loads(x)["pts"] for x in lines] == pytest.approx([0.1 * i for i in range(10)])


def test_video_range_stride_and_max_frames(tiny_weights, tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", frames=20, size=(64, 96), fps=10, audio=None)
    code, _, _ = run(["segment", str(src), "-o", str(tmp_path / "a.mkv"), "--weights", str(tiny_weights),
                      "--start", "0.5", "--vid-stride", "2", "--max-frames", "3", "-q"], capsys)
    assert code == 0
    assert probe(tmp_path / "a.mkv")["times"] == pytest.approx([0.0, 0.2, 0.4])


def test_corrupt_images_are_listed_and_exit_3(tiny_weights, tmp_path, capsys):
    src = _images(tmp_path / "in")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    code, _, err = run(["segment", str(src), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights)], capsys)
    assert code == 3 and "broken.jpg" in err and "1 input(s) skipped" in err
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


@pytest.mark.parametrize(
    "args, message",
    [(["missing.mp4"], "missing.mp4: no such file or folder"),
     (["IN", "-o", "x.mp4"], "write overlay images into a folder"),
     (["IN", "--classes", "unicorn"], "unknown class 'unicorn'"),
     (["IN", "--device", "cuda:7"], "--device"),
     (["IN", "--imgsz", "10"], "--imgsz must be at least 32")],
)
def test_bad_input_is_one_line(tiny_weights, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    _images(tmp_path / "IN", n=1)
    code, _, err = run(["segment", *args, "--weights", str(tiny_weights)], capsys)
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_existing_outputs_are_refused_without_overwrite(tiny_weights, tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", frames=3, audio=None)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    code, _, err = run(["segment", str(src), "-o", str(out), "--weights", str(tiny_weights)], capsys)
    assert code == 1 and "--overwrite" in err and out.read_bytes() == b"precious"
    code, _, _ = run(["segment", str(src), "-o", str(out), "--weights", str(tiny_weights), "--overwrite", "-q"],
                     capsys)
    assert code == 0 and len(probe(out)["times"]) == 3


def test_ctrl_c_exits_130_with_a_playable_video(tiny_weights, tmp_path):
    import signal
    import subprocess
    import sys

    src = make_video(tmp_path / "clip.mp4", frames=1000, size=(64, 96), fps=25, audio="aac")
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "efficientps_app", "segment", str(src), "-o", str(out),
                             "--weights", str(tiny_weights)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not temp_path(out).exists() and time.time() < deadline:  # wait until frames are being written
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "saved" in err
    frames = len(probe(out)["times"])
    assert 0 < frames < 1000 and not temp_path(out).exists()


def test_saved_panoptic_is_scored_by_evaluate(tiny_weights, tmp_path, capsys):
    """segment --save-panoptic on a Cityscapes-layout split; evaluate --predictions reads the result."""
    from train.prepare import panoptic_gt_json

    data = tmp_path / "synth"
    assert main(["data", "synth", str(data), "--train", "0", "--val", "2", "--size", "64", "128", "--seed", "1"]) == 0
    assert main(["data", "prepare", str(data), "--split", "val"]) == 0
    out = tmp_path / "pred"
    assert main(["segment", str(data / "leftImg8bit" / "val"), "-r", "-o", str(out), "--weights", str(tiny_weights),
                 "--save-panoptic", "-q"]) == 0
    gt_ids = {a["image_id"] for a in json.loads(panoptic_gt_json(data, "val").read_text())["annotations"]}
    assert {a["image_id"] for a in json.loads((out / "panoptic.json").read_text())["annotations"]} == gt_ids
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--predictions", str(out / "panoptic.json"),
                 "--json", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert 0.0 <= results["All"]["pq"] <= 1.0 and results["All"]["n"] > 0


def test_class_filter_with_panoptic_output_on_the_demo_drive(tmp_path, capsys):
    """segment --classes car --save-panoptic on the demo drive ended in an internal IndexError."""
    from efficientps_app.assets import DEMO_VIDEO, DEMO_WEIGHTS

    out = tmp_path / "cars.mp4"
    code, _, err = run(["segment", str(DEMO_VIDEO), "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--classes", "car",
                        "--save-panoptic", "--max-frames", "10", "-q"], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "cars_panoptic.json").read_text())
    assert len(data["annotations"]) == 10
    cars = 0
    for ann in data["annotations"]:
        png = np.asarray(Image.open(tmp_path / "cars_panoptic" / ann["file_name"])).astype(np.int64)
        ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        assert set(np.unique(ids).tolist()) - {0} == {s["id"] for s in ann["segments_info"]}
        assert all(s["category_id"] == 26 for s in ann["segments_info"])  # car's labelId
        cars += len(ann["segments_info"])
    assert cars > 0


def test_outputs_are_checked_before_the_model_is_loaded(tmp_path, capsys, monkeypatch):
    """An existing output is refused without reading the weights; a failed start leaves no run folder."""
    monkeypatch.chdir(tmp_path)
    src = _images(tmp_path / "in", n=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "img0_leftImg8bit.png").write_bytes(b"precious")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights")
    code, _, err = run(["segment", str(src), "-o", str(tmp_path / "out"), "--weights", str(junk)], capsys)
    assert code == 1 and "already exists; pass --overwrite" in err
    code, _, err = run(["segment", str(src), "--weights", str(junk)], capsys)
    assert code == 1 and "junk.safetensors" in err and not (tmp_path / "runs").exists()


def test_an_interruption_ends_one_way_wherever_it_comes(tiny_weights, tmp_path, capsys, monkeypatch):
    """Finalised after Ctrl-C (the command returns 130) or Ctrl-C while loading: the same exit and line."""
    import efficientps_app.inference.predictor as predictor_module
    import efficientps_app.pipeline as pipeline

    src = make_video(tmp_path / "clip.mp4", frames=6, audio=None)
    real = pipeline.run_pipeline

    def interrupted_at_the_third_frame(*args, on_frame=None, **kwargs):
        def stop(pred):
            if pred.frame.meta.index == 2:
                raise KeyboardInterrupt
        return real(*args, on_frame=stop, **kwargs)

    monkeypatch.setattr(pipeline, "run_pipeline", interrupted_at_the_third_frame)
    code, _, err = run(["segment", str(src), "-o", str(tmp_path / "a.mp4"), "--weights", str(tiny_weights)], capsys)
    assert code == 130 and err.count("error: interrupted") == 1 and f"saved {tmp_path / 'a.mp4'}" in err

    def loading(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(predictor_module.Predictor, "__init__", loading)
    code, _, err = run(["segment", str(src), "-o", str(tmp_path / "b.mp4"), "--weights", str(tiny_weights)], capsys)
    assert (code, err) == (130, "error: interrupted\n")


def test_an_unquoted_glob_is_several_image_files(tiny_weights, tmp_path, capsys):
    """``segment in/*.png`` reaches the command as several paths: all are segmented, in order."""
    src = _images(tmp_path / "in", n=3)
    files = sorted(str(p) for p in src.glob("*.png"))
    code, _, err = run(["segment", *files[:2], "-o", str(tmp_path / "out"), "--weights", str(tiny_weights), "-q"],
                       capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [Path(f).name for f in files[:2]]
    make_video(tmp_path / "clip.mp4", frames=2, audio=None)
    code, _, err = run(["segment", files[0], str(tmp_path / "clip.mp4"), "--weights", str(tiny_weights)], capsys)
    assert code == 1 and "clip.mp4: not an image file" in err and len(err.strip().splitlines()) == 1
