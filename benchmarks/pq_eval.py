"""PQ evaluation speed: ours vs cityscapesscripts' evalPanopticSemanticLabeling, side by side in one run.

Writes N ground-truth images (default 500 at 1024x2048; UNIQUE distinct synthetic scenes, repeated under
new names, since the evaluators' cost does not depend on the content being unique) and perturbed
predictions in COCO panoptic format, then times both evaluators on the same files and checks that they
agree. cityscapesscripts uses a process per CPU core; ours runs in one process.

    python benchmarks/pq_eval.py --images 500 --size 1024 2048
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.train.test_pq import _perturb  # noqa: E402  (the same perturbations the parity test uses)

from train.evaluate import evaluate_files  # noqa: E402
from train.panoptic_io import eval_categories, gt_from_instance_ids, id_to_rgb  # noqa: E402
from train.synth import render_scene  # noqa: E402


def make_files(root: Path, images: int, unique: int, size: tuple[int, int]) -> tuple[Path, Path]:
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    rng = np.random.default_rng(0)
    gt_anns, pred_anns = [], []
    for u in range(unique):
        _, _, inst = render_scene(size[0], size[1], seed=u)
        ids, segments = gt_from_instance_ids(inst.astype(np.int64))
        seg_json = [s.as_json() for s in segments]
        pred, pred_segments = _perturb(ids, seg_json, rng)
        first = f"img{u:05d}.png"
        cv2.imwrite(str(gt_dir / first), id_to_rgb(ids)[..., ::-1])
        cv2.imwrite(str(pred_dir / first), id_to_rgb(pred)[..., ::-1])
        for k in range(u, images, unique):
            name = f"img{k:05d}"
            if k != u:
                shutil.copy(gt_dir / first, gt_dir / f"{name}.png")
                shutil.copy(pred_dir / first, pred_dir / f"{name}.png")
            gt_anns.append({"image_id": name, "file_name": f"{name}.png", "segments_info": seg_json})
            pred_anns.append({"image_id": name, "file_name": f"{name}.png", "segments_info": pred_segments})
    cats = eval_categories()
    (root / "gt.json").write_text(json.dumps({"annotations": gt_anns, "categories": cats, "images": []}))
    (root / "pred.json").write_text(json.dumps({"annotations": pred_anns, "categories": cats, "images": []}))
    return root / "gt.json", root / "pred.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--unique", type=int, default=10)
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048))
    args = parser.parse_args()
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        gt_json, pred_json = make_files(root, args.images, min(args.unique, args.images), tuple(args.size))
        print(f"# {args.images} images of {args.size[0]}x{args.size[1]} written in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            ref = evaluatePanoptic(str(gt_json), str(root / "gt"), str(pred_json), str(root / "pred"), str(root / "r.json"))
        t_ref = time.perf_counter() - t
        t = time.perf_counter()
        ours = evaluate_files(pred_json, gt_json)
        t_ours = time.perf_counter() - t
    diff = max(abs(ours[g][k] - ref[g][k]) for g in ("All", "Things", "Stuff") for k in ("pq", "sq", "rq"))
    print("| evaluator | seconds | images/s | PQ |")
    print("|---|---:|---:|---:|")
    print(f"| cityscapesscripts evalPanopticSemanticLabeling | {t_ref:.1f} | {args.images / t_ref:.1f} | {100 * ref['All']['pq']:.4f} |")
    print(f"| efficientps (train/pq.py) | {t_ours:.1f} | {args.images / t_ours:.1f} | {100 * ours['All']['pq']:.4f} |")
    print(f"\nspeed-up: {t_ref / t_ours:.2f}x; largest PQ/SQ/RQ difference: {diff:.2e}")


if __name__ == "__main__":
    main()
