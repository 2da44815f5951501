"""A collection run of ``segment``: many input files into one output folder, split between processes
(``--shard`` or torchrun), recorded in a manifest, resumable with ``--skip-existing``.

Each process takes its shard of the inputs (:mod:`efficientps_app.sharding`), checks all its output paths
before the model is loaded, then segments its files one by one, writing each file's outputs below ``-o``
under the file's relative name and a manifest record when the file is finished (:mod:`.outputs.manifest`).
A file that fails is recorded with the reason and the process goes on. Rank 0 shows the progress of all
processes (from the manifest files) and prints the summary of all of them (gathered over gloo).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from efficientps_app.console import print_notes, stderr
from efficientps_app.errors import EXIT_INTERRUPTED, EXIT_PARTIAL, EfficientPSError, OutputError, SourceError
from efficientps_app.outputs.exports import semantic_paths
from efficientps_app.outputs.manifest import MANIFEST_DIR, InputRecord, ManifestWriter, read_manifest
from efficientps_app.outputs.plan import OutputPlan, plan_outputs
from efficientps_app.outputs.video_writer import CONTAINERS
from efficientps_app.sharding import Shard, SummaryGroup, assign, shard_device, shard_threads
from efficientps_app.sources.collection import InputFile, collect_inputs, frame_count, open_input

if TYPE_CHECKING:
    from efficientps_app.inference.predictor import Predictor
    from efficientps_app.outputs.render import RenderOptions

PROGRESS_POLL_S = 1.0  # how often rank 0 reads the manifest files for the overall progress


@dataclass(frozen=True)
class CollectionRequest:
    """What ``segment`` asks of a collection run.

    Attributes:
        sources: What the user named (folders, globs, files, ``.txt`` lists).
        output: The output folder.
        shard: This process's part.
        skip_existing: Leave out the inputs the manifest says are done (and whose outputs are there).
        overwrite: Replace existing outputs.
        recursive: Folders: include sub-folders.
        open_args: ``vid_stride``, ``start``, ``end`` for every input.
        plan_args: The output options of :func:`~efficientps_app.outputs.plan.plan_outputs`.
        predictor_args: The arguments of :class:`~efficientps_app.inference.predictor.Predictor`.
        max_frames: Per input.
        smooth_stuff: Video: smooth stuff classes over time.
        quiet: No progress or summary.
    """

    sources: tuple[str, ...]
    output: Path
    shard: Shard
    skip_existing: bool = False
    overwrite: bool = False
    recursive: bool = False
    open_args: dict = field(default_factory=dict)
    plan_args: dict = field(default_factory=dict)
    predictor_args: dict = field(default_factory=dict)
    max_frames: int | None = None
    smooth_stuff: bool = False
    quiet: bool = False


def my_inputs(request: CollectionRequest) -> tuple[list[InputFile], list[InputFile]]:
    """All inputs of the run and this process's share of them (in input order)."""
    inputs = collect_inputs(request.sources, request.recursive)
    if request.shard.count == 1:
        return inputs, inputs
    owner = assign([frame_count(item, **request.open_args) for item in inputs], request.shard.count)
    return inputs, [item for item, o in zip(inputs, owner) if o == request.shard.index]


def _plan(item: InputFile, request: CollectionRequest) -> OutputPlan:
    """The input's outputs below ``-o`` (checked: existing ones are refused without --overwrite)."""
    rel = Path(item.relative)
    with open_input(item, **request.open_args) as source:
        return plan_outputs(source, request.output / rel.parent, **request.plan_args,
                            overwrite=request.overwrite or request.skip_existing, stem=rel.stem)


def planned_files(item: InputFile, plan: OutputPlan, root: Path) -> tuple[str, ...]:
    """The files an input's plan writes, that must all be there for it to count as done (relative to root)."""
    rel = Path(item.relative)
    files = [plan.video if plan.video is not None else plan.images / rel.name, plan.panoptic, plan.jsonl]
    if plan.semantic is not None and item.kind == "images":
        files += semantic_paths(plan.semantic, rel.stem)
    return tuple(str(p.relative_to(root)) for p in files if p is not None)


def _check_output(request: CollectionRequest) -> None:
    out = request.output
    if out.exists() and not out.is_dir():
        raise OutputError(f"-o {out}: a collection run writes into a folder; this is a file")
    if out.suffix.lower() in CONTAINERS:
        raise OutputError(f"-o {out}: a collection run writes into a folder, not one video")


@dataclass
class _Tally:
    """This process's counts, gathered on rank 0 at the end."""

    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    frames: int = 0


def run_collection(request: CollectionRequest, render_options: RenderOptions) -> int:
    """Segment this process's share of the collection; rank 0 prints the summary of all processes.

    Returns:
        The exit code: 0, :data:`EXIT_PARTIAL` when some inputs failed (rank 0 and ``--shard``; the other
        torchrun processes return 0 so that torchrun does not stop the rest), or :data:`EXIT_INTERRUPTED`.

    Raises:
        EfficientPSError: no inputs, outputs in the way, or every input failed.
    """
    _check_output(request)
    shard, root, started = request.shard, request.output, time.time()
    inputs, mine = my_inputs(request)
    before = read_manifest(root) if request.skip_existing else {}
    finished = {rel for rel, record in before.items() if record.complete(root)}
    tally = _Tally(skipped=sum(item.relative in finished for item in mine))
    todo, plans = [item for item in mine if item.relative not in finished], {}
    for item in todo:  # every output path checked before the model is loaded
        try:
            plans[item.relative] = _plan(item, request)
        except SourceError as err:
            plans[item.relative] = err
    group = SummaryGroup(shard)
    predictor = _predictor(request) if todo else None  # nothing left to do: no model to load
    manifest = ManifestWriter(root, shard.name)
    progress = _OverallProgress(root, inputs, finished, started, disabled=request.quiet or not shard.leader)
    with progress:
        for item in todo:
            record = _segment_one(item, plans[item.relative], predictor, request, render_options)
            if record is None:
                return EXIT_INTERRUPTED  # this input's outputs stay unrecorded: a rerun redoes it
            manifest.add(record)
            tally.done += record.state == "done"
            tally.frames += record.frames
            if record.state == "failed":
                tally.failed.append((item.relative, record.reason or ""))
            progress.refresh()
        summaries = group.gather({"tally": tally, "wall_s": time.time() - started})
    group.close()
    return _report(summaries, len(inputs), shard, request, root)


def _predictor(request: CollectionRequest) -> Predictor:
    from efficientps_app.assets import announce_demo
    from efficientps_app.inference.predictor import Predictor

    args = dict(request.predictor_args)
    args["device"] = shard_device(args.get("device", "auto"), request.shard)
    args["threads"] = shard_threads(args.get("threads"), request.shard)
    predictor = Predictor(**args)
    if request.shard.leader:
        announce_demo(predictor.backend.trained_on, request.sources[0], request.quiet)
        print_notes(predictor.notes)
        if not request.quiet:
            stderr.print(f"segmenting with {predictor.backend.note} in {request.shard.count} process(es) -> "
                         f"{request.output}", markup=False)
    return predictor


def _segment_one(item: InputFile, plan: OutputPlan | SourceError, predictor: Predictor,
                 request: CollectionRequest, render_options: RenderOptions) -> InputRecord | None:
    """Segment one input into its outputs; its record (None when interrupted)."""
    from efficientps_app.pipeline import run_pipeline

    base = {"input": item.relative, "shard": request.shard.name}
    if isinstance(plan, SourceError):
        return InputRecord(**base, state="failed", reason=str(plan))
    try:
        with open_input(item, **request.open_args) as source:
            summary = run_pipeline(predictor, source, plan.start(predictor.classes, {}), render_options,
                                   max_frames=request.max_frames, smooth_stuff=request.smooth_stuff)
    except Exception as err:  # one input's failure is recorded, not fatal to the run
        reason = str(err) if isinstance(err, EfficientPSError) else f"{type(err).__name__}: {err}"
        return InputRecord(**base, state="failed", reason=" ".join(reason.split()))
    if summary.interrupted:
        return None
    if summary.frames == 0:
        reason = summary.failures[0] if summary.failures else "no frames to segment"
        return InputRecord(**base, state="failed", reason=reason)
    return InputRecord(**base, state="done", outputs=planned_files(item, plan, request.output),
                       frames=summary.frames, notes=tuple(summary.failures))


def _report(summaries: list[dict], total: int, shard: Shard, request: CollectionRequest, root: Path) -> int:
    """Print the summary (rank 0, or every ``--shard`` process for its share) and choose the exit code."""
    if not shard.leader and shard.torchrun:
        return 0
    tallies = [s["tally"] for s in summaries]
    done, skipped = sum(t.done for t in tallies), sum(t.skipped for t in tallies)
    failed = [f for t in tallies for f in t.failed]
    wall = max(s["wall_s"] for s in summaries)
    if not request.quiet or failed:
        per_min = 60 * done / wall if wall > 0 else 0.0
        scope = f"{total} inputs" if shard.torchrun or shard.count == 1 else f"shard {shard.index}/{shard.count}"
        stderr.print(f"{scope}: {done} done, {skipped} already done, {len(failed)} failed; "
                     f"{sum(t.frames for t in tallies)} frames in {wall:.1f} s ({per_min:.1f} files/min, "
                     f"{len(summaries) if shard.torchrun else 1} process(es)); manifest {root / MANIFEST_DIR}",
                     markup=False)
        for name, reason in failed[:20]:
            stderr.print(f"  failed: {name}: {reason}", markup=False)
        if len(failed) > 20:
            stderr.print(f"  ... and {len(failed) - 20} more (see the manifest)")
    if failed and not done and not skipped:
        raise EfficientPSError(f"none of the {len(failed)} inputs could be segmented")
    return EXIT_PARTIAL if failed else 0


class _OverallProgress:
    """Rank 0's bar of finished inputs over all processes, read from the manifest files every second."""

    def __init__(self, root: Path, inputs: list[InputFile], finished: set[str], started: float,
                 disabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.root, self.names, self.finished, self.started = root, {i.relative for i in inputs}, finished, started
        self._progress = Progress(TextColumn("segmenting files"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=stderr, transient=True, disable=disabled)
        self._task = self._progress.add_task("files", total=len(inputs))
        self._stop, self.disabled = threading.Event(), disabled
        self._thread = threading.Thread(target=self._poll, name="efficientps-progress", daemon=True)

    def refresh(self) -> None:
        if self.disabled:
            return
        records = read_manifest(self.root)
        count = sum(1 for name in self.names
                    if name in self.finished or (name in records and records[name].time >= self.started))
        self._progress.update(self._task, completed=count)

    def _poll(self) -> None:
        while not self._stop.wait(PROGRESS_POLL_S):
            self.refresh()

    def __enter__(self) -> _OverallProgress:
        self._progress.__enter__()
        if not self.disabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._progress.__exit__(*exc)
