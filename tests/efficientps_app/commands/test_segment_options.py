"""Random combinations of ``segment``'s options on images, folders, globs and videos (seeded, so CI sees the
same ones): never an internal error, and outputs that keep what the options promise."""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("hypothesis", reason="hypothesis is not installed (the [dev] extra)")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from efficientps_app.assets import DEMO_WEIGHTS  # noqa: E402
from efficientps_app.cli import main  # noqa: E402
from model.classes import CITYSCAPES_CLASSES as CLASSES  # noqa: E402
from tests.media import make_video, probe  # noqa: E402

H, W, FPS, VIDEO_FRAMES = 128, 256, 10, 6
CLASS_CHOICES = ["car", "person", "road", "13", "building", "vegetation"]


@dataclass
class Media:
    folder: Path  # a.png, b.png and sub/c.png: synthetic streets
    video: Path  # VIDEO_FRAMES synthetic streets at FPS


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Media:
    from train.synth import render_scene

    root = tmp_path_factory.mktemp("media")
    scenes = [render_scene(H, W, seed)[0] for seed in range(VIDEO_FRAMES)]
    (root / "imgs" / "sub").mkdir(parents=True)
    for name, image in zip(("a.png", "b.png", "sub/c.png"), scenes):
        Image.fromarray(image).save(root / "imgs" / name)
    video = make_video(root / "drive.mp4", frames=VIDEO_FRAMES, size=(H, W), fps=FPS, audio=None, images=scenes)
    return Media(root / "imgs", video)


@dataclass
class Case:
    kind: str  # image, folder, glob, video
    args: list[str]
    output: str  # "folder", "file.mp4", "file.mkv" or "default"
    errors: list[str] = field(default_factory=list)  # one of these messages is expected, if any


@st.composite
def cases(draw) -> Case:
    kind = draw(st.sampled_from(["image", "folder", "glob", "video", "video", "video"]))
    args, errors = [], []
    size = draw(st.sampled_from([None, None, None, "imgsz", "scale", "both"]))
    if size in ("imgsz", "both"):
        imgsz = draw(st.sampled_from([16, 64, 100, 200]))
        args += ["--imgsz", str(imgsz)]
        errors += ["--imgsz must be at least 32"] if imgsz < 32 else []
    if size in ("scale", "both"):
        scale = draw(st.sampled_from([0.4, 0.7, 1.0, 9.0]))
        args += ["--scale", str(scale)]
        errors += ["--scale must be in (0, 8]"] if scale > 8 else []
    errors += ["give --imgsz or --scale, not both"] if size == "both" else []
    if draw(st.booleans()):
        args += ["--conf", str(draw(st.sampled_from([0.0, 0.3, 0.7])))]
    if draw(st.booleans()):
        args += ["--classes", ",".join(draw(st.lists(st.sampled_from(CLASS_CHOICES), min_size=1, max_size=3,
                                                     unique=True)))]
    backend = draw(st.sampled_from(["auto", "auto", "auto", "torch", "torch", "onnx"]))
    args += ["--backend", backend, "--batch", str(draw(st.integers(1, 3)))]
    errors += ["is a torch model"] if backend == "onnx" else []
    for flag in ("--save-panoptic", "--save-json", "--side-by-side", "--no-labels", "--no-contours", "--no-legend"):
        if draw(st.booleans()):
            args.append(flag)
    args += ["--alpha", str(draw(st.sampled_from([0.0, 0.5, 1.0])))]
    if kind == "folder" and draw(st.booleans()):
        args.append("--recursive")
    output = draw(st.sampled_from(["folder", "default"] + (["file.mp4", "file.mkv"] if kind == "video" else [])))
    if kind == "video":
        args += ["--vid-stride", str(draw(st.integers(1, 3)))]
        start, end = draw(st.sampled_from([None, 0.0, 0.2, 0.7])), draw(st.sampled_from([None, 0.0, 0.3, 0.5]))
        args += ["--start", str(start)] if start is not None else []
        args += ["--end", str(end)] if end is not None else []
        if start is not None and end is not None and end <= start:
            errors.append("must be after --start")
        elif _video_frames(start, end, 1, None) == []:
            errors.append("no frames")
        if draw(st.booleans()):
            args += ["--max-frames", str(draw(st.integers(1, 4)))]
    return Case(kind, args, output, errors)


def _option(args: list[str], name: str, cast=float, default=None):
    return cast(args[args.index(name) + 1]) if name in args else default


def _video_frames(start: float | None, end: float | None, stride: int, max_frames: int | None) -> list[int]:
    """The indices segment promises for the test video: the time range, every stride-th, at most max_frames."""
    kept = [i for i in range(VIDEO_FRAMES) if (start is None or i / FPS >= start - 1e-6)
            and (end is None or i / FPS < end - 1e-6)]
    return kept[::stride][:max_frames]


def _expected_images(case: Case) -> list[str]:
    if case.kind == "image":
        return ["a.png"]
    return ["a.png", "b.png"] + (["sub/c.png"] if "--recursive" in case.args else [])


def _source(case: Case, media: Media) -> str:
    return {"image": str(media.folder / "a.png"), "folder": str(media.folder), "glob": str(media.folder / "*.png"),
            "video": str(media.video)}[case.kind]


def _wanted_ids(case: Case) -> set[int] | None:
    if "--classes" not in case.args:
        return None
    names = case.args[case.args.index("--classes") + 1].split(",")
    by_name = {c.name: c.train_id for c in CLASSES}
    return {int(n) if n.isdigit() else by_name[n] for n in names}


def _check_segments(segments: list[dict], case: Case) -> None:
    wanted, conf = _wanted_ids(case), _option(case.args, "--conf")
    assert [s["id"] for s in segments] == list(range(1, len(segments) + 1))  # ids 1..K
    assert sum(s["area"] for s in segments) <= H * W
    for s in segments:
        assert wanted is None or s["category_id"] in wanted, (s, wanted)
        assert conf is None or not s["isthing"] or s["score"] >= conf - 1e-6


def _check_panoptic(json_path: Path, frames: int, case: Case) -> None:
    data = json.loads(json_path.read_text())
    assert len(data["annotations"]) == frames
    wanted = _wanted_ids(case)
    for ann in data["annotations"]:
        png = np.asarray(Image.open(json_path.with_suffix("") / ann["file_name"])).astype(np.int64)
        assert png.shape == (H, W, 3)  # results come back at the source size, whatever --imgsz/--scale
        ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        assert set(np.unique(ids).tolist()) - {0} == {s["id"] for s in ann["segments_info"]}
        if wanted is not None:
            assert {s["category_id"] for s in ann["segments_info"]} <= {CLASSES[i].label_id for i in wanted}


def _check_outputs(case: Case, out: Path, root: Path) -> None:
    width = 2 * W if "--side-by-side" in case.args else W
    if case.kind == "video":
        expected = _video_frames(_option(case.args, "--start"), _option(case.args, "--end"),
                                 _option(case.args, "--vid-stride", int, 1), _option(case.args, "--max-frames", int))
        video = out if case.output.startswith("file") else out / "drive.mp4"
        info = probe(video)
        assert len(info["times"]) == len(expected) and info["size"] == (H, width)
        assert info["times"] == pytest.approx([(i - expected[0]) / FPS for i in expected], abs=2e-3)
        panoptic, jsonl = video.with_name(f"{video.stem}_panoptic.json"), video.with_suffix(".jsonl")
    else:
        names = _expected_images(case)
        expected = list(range(len(names)))
        written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png") if "panoptic" not in p.parts)
        assert written == sorted(names)
        assert all(np.asarray(Image.open(out / n)).shape == (H, width, 3) for n in names)
        panoptic, jsonl = out / "panoptic.json", out / "predictions.jsonl"
    assert panoptic.exists() == ("--save-panoptic" in case.args)
    assert jsonl.exists() == ("--save-json" in case.args)
    if panoptic.exists():
        _check_panoptic(panoptic, len(expected), case)
    if jsonl.exists():
        lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert [x["frame"] for x in lines] == expected
        for line in lines:
            assert (line["height"], line["width"]) == (H, W)
            _check_segments(line["segments"], case)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_random_option_combinations_keep_their_promises(case, media, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = {"folder": root / "out", "file.mp4": root / "out.mp4", "file.mkv": root / "out.mkv",
               "default": root / "runs" / "segment" / "predict"}[case.output]
        output_args = [] if case.output == "default" else ["-o", str(out)]
        capsys.readouterr()
        with contextlib.chdir(root):
            code = main(["segment", _source(case, media), "--weights", str(DEMO_WEIGHTS), "--device", "cpu", "-q",
                         *output_args, *case.args])
        stdout, err = capsys.readouterr()
        assert "internal error" not in err and "Traceback" not in err and stdout == "", err
        if case.errors:
            assert code == 1 and any(e in err for e in case.errors), (case, err)
            assert len(err.strip().splitlines()) == 1 and not (root / "runs").exists(), err
            return
        assert code == 0, (case, err)
        _check_outputs(case, out, root)
        if case.output == "default":
            assert (out / "args.yaml").is_file()
