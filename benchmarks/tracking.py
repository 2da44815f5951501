"""STQ, VPQ and id switches of the tracker ``segment`` used before (a frozen copy in
``benchmarks/legacy_tracker.py``) and of the current one, side by side on the same frames:

* the oracle test (:mod:`train.video_oracle`): a synthetic drive's ground truth, spoiled like detections
  (ids scrambled per frame, masks eroded/dilated and shifted, detections dropped, classes flipped);
* the demo weights on the same drive, encoded as H.264 and decoded as ``segment`` decodes it.

    python benchmarks/tracking.py --seed 1 --seconds 10 --markdown

Each row scores the same segmentation (per setting), so differences in AQ, VPQ and id switches are the
tracker's; "true ids" gives every segment the id of the object it came from (the best any tracker can
do with those detections), "no class vote" outputs each segment in the class it was detected as (the
current tracker outputs it in its track's class), "+ stuff smoothing" adds ``--smooth-stuff``. "ms /
frame" is the time of the tracking step alone (and of the smoothing), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.legacy_tracker import LegacyTracker  # noqa: E402
from efficientps_app.inference.smoothing import StuffSmoother  # noqa: E402
from efficientps_app.inference.tracking import Tracker, class_groups  # noqa: E402
from train.panoptic_io import eval_categories  # noqa: E402
from train.synth_video import render_drive_frames, write_synthetic_drive  # noqa: E402
from train.video_oracle import Spoiling, VideoScorer, run_oracle  # noqa: E402

COLUMNS = ("STQ", "AQ", "SQ", "VPQ", "VPQ things", "id switches / 100", "recovered", "ms / frame")


def _steps(classes):
    """(name, factory of a step result -> (result, track ids)) of each tracker row."""
    def legacy():
        tracker = LegacyTracker()
        return lambda r: (r, tracker.update(r))

    def current(vote: bool):
        def make():
            tracker = Tracker(groups=class_groups(classes))
            return lambda r: tracker.track(r, vote=vote)
        return make

    return [("previous tracker", legacy), ("current tracker, no class vote", current(False)),
            ("current tracker", current(True))]


def _timed(step, clock: list[float]):
    """``step`` that adds the seconds it takes to ``clock[0]``."""
    def run(*args):
        t0 = time.perf_counter()
        out = step(*args)
        clock[0] += time.perf_counter() - t0
        return out
    return run


def _row(setting: str, name: str, r: dict, seconds: float) -> dict:
    return {"setting": setting, "tracker": name, "STQ": r["stq"], "AQ": r["aq"], "SQ": r["sq"],
            "VPQ": r["vpq_mean"]["All"], "VPQ things": r["vpq_mean"]["Things"],
            "id switches / 100": r["id_switches_per_100"], "id switches": r["id_switches"],
            "recovered": f"{r['recovered_tracks']}/{r['gt_tracks']}", "ms / frame": 1000 * seconds / r["frames"]}


def oracle_rows(frames, classes, categories, spoil: Spoiling) -> list[dict]:
    rows = []
    for name, make in [("true ids", None), *_steps(classes)]:
        clock = [0.0]
        r = run_oracle([f.inst for f in frames], _timed(make(), clock) if make else None, classes, categories, spoil)
        rows.append(_row("oracle", name, r, clock[0]))
    return rows


def demo_rows(frames, video: Path, weights: Path, device: str, categories) -> list[dict]:
    from efficientps_app.inference.predictor import Predictor

    predictor = Predictor(weights, device=device)
    decoded = [(p.frame.image, p.result) for p in predictor.stream(video, track=False)]
    if len(decoded) != len(frames):
        raise RuntimeError(f"{video}: decoded {len(decoded)} frames, rendered {len(frames)}")
    classes = predictor.classes
    rows = []
    steps = _steps(classes) + [("current tracker + stuff smoothing", None)]
    for name, make in steps:
        clock = [0.0]
        scorer = VideoScorer(classes, categories)
        if make is None:
            smoother, tracker = StuffSmoother(predictor.config.num_stuff), predictor.tracker()
            step = lambda image, r: tracker.track(smoother.update(image, r))  # noqa: E731
        else:
            track = make()
            step = lambda image, r: track(r)  # noqa: E731
        step = _timed(step, clock)
        for index, (frame, (image, result)) in enumerate(zip(frames, decoded)):
            scorer.add(index, frame.inst, *step(image, result))
        rows.append(_row("demo weights", name, scorer.results(), clock[0]))
    return rows


def markdown(rows: list[dict]) -> str:
    head = "| setting | tracker | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for r in rows:
        cells = [r[c] if c == "recovered" else f"{r[c]:.0f}" if c == "id switches / 100" else
                 f"{r[c]:.1f}" if c == "ms / frame" else f"{100 * r[c]:.1f}" for c in COLUMNS]
        lines.append(f"| {r['setting']} | {r['tracker']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from efficientps_app.assets import DEMO_WEIGHTS
    from model.classes import CITYSCAPES_CLASSES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1, help="The drive (the bundled demo drive is seed 0).")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--size", type=int, nargs=2, default=(256, 512))
    ap.add_argument("--spoil-seed", type=int, default=0)
    ap.add_argument("--weights", type=Path, default=DEMO_WEIGHTS)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-demo", action="store_true", help="Only the oracle test.")
    ap.add_argument("--json", type=Path, help="Also write the rows as JSON.")
    ap.add_argument("--markdown", action="store_true", help="Print a Markdown table.")
    args = ap.parse_args()
    categories = {c["id"]: bool(c["isthing"]) for c in eval_categories()}
    h, w = args.size
    frames = list(render_drive_frames(h, w, args.seconds, args.fps, args.seed))
    rows = oracle_rows(frames, CITYSCAPES_CLASSES, categories, Spoiling(seed=args.spoil_seed))
    if not args.no_demo:
        with tempfile.TemporaryDirectory() as tmp:
            video = write_synthetic_drive(Path(tmp) / f"drive_seed{args.seed}.mp4", args.seconds, args.fps,
                                          (h, w), args.seed)
            rows += demo_rows(frames, video, args.weights, args.device, categories)
    print(f"drive: seed {args.seed}, {len(frames)} frames of {h}x{w} at {args.fps} fps")
    if args.markdown:
        print(markdown(rows))
    else:
        for r in rows:
            print(json.dumps(r, default=float))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
