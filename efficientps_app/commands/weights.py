"""``efficientps weights list`` and ``efficientps weights fetch``: the authors' checkpoints, one command away."""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from efficientps_app.commands.help import Command, Group
from efficientps_app.console import stderr, stdout
from efficientps_app.errors import EfficientPSError
from efficientps_app.weights.cache import (FetchRecord, cache_dir, converted_path, downloads_dir, read_record,
                                          writable_cache, write_record)
from efficientps_app.weights.catalogue import CATALOGUE, DEFAULT, KnownWeights, Source, known_weights
from efficientps_app.weights.download import DownloadError, download, file_sha256

weights_app = typer.Typer(cls=Group, help="The authors' released weights: list them, fetch one into the cache.",
                          no_args_is_help=True)


@dataclass(frozen=True)
class _Original:
    """The checkpoint as downloaded (or given with --file)."""

    path: Path
    url: str
    size: int
    sha256: str


@weights_app.command("list", cls=Command)
def list_weights(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> int:
    """The released weights we know, where they come from, their license and whether they are in the cache."""
    from model.official import LICENSE

    rows = [_describe(entry) for entry in CATALOGUE.values()]
    if as_json:
        typer.echo(json.dumps({"cache": str(cache_dir()), "default": DEFAULT, "license": LICENSE, "weights": rows},
                              indent=2))
        return 0
    table = Table(title="released EfficientPS weights", title_justify="left")
    for col in ("name", "trained on", "input", "download", "cached"):
        table.add_column(col)
    for r in rows:
        size = f"{r['size'] / 1e6:.1f} MB" if r["size"] else "size unknown"
        table.add_row(r["name"] + ("*" if r["default"] else ""), f"{r['dataset']}, PQ {r['pq']}",
                      r["input_size"], size, "[green]yes[/]" if r["cached"] else "no")
    stdout.print(table)
    for r in rows:
        where = (f"in the cache: {r['path']} (use --weights {r['name']})" if r["cached"]
                 else f"not cached: efficientps weights fetch {r['name']}")
        sources = "; ".join(f"{s['url']} ({s['label']})" for s in r["sources"])
        stdout.print(f"{r['name']}{' (* the default of weights fetch)' if r['default'] else ''}: {where}; "
                     f"sources, tried in order: {sources}", markup=False, soft_wrap=True)
    stdout.print(f"license: {LICENSE}", markup=False)
    stdout.print(f"cache: {cache_dir()} (set EFFICIENTPS_CACHE to use another folder)", markup=False, soft_wrap=True)
    return 0


def _describe(entry: KnownWeights) -> dict:
    record = read_record(entry.name)
    cached = converted_path(entry.name).is_file()
    h, w = entry.release.input_size
    return {"name": entry.name, "default": entry.name == DEFAULT, "dataset": entry.release.dataset,
            "pq": entry.release.pq, "input_size": f"{h}x{w}",
            "sources": [{"url": s.url, "label": s.label} for s in entry.sources],
            "size": record.size if record and cached else entry.size,
            "sha256": record.sha256 if record and cached else entry.sha256,
            "cached": cached, "path": str(converted_path(entry.name)) if cached else None,
            "fetched_from": record.url if record and cached else None}


@weights_app.command("fetch", cls=Command)
def fetch(
    name: Annotated[str, typer.Argument(help=f"Which weights: {', '.join(CATALOGUE)}.")] = DEFAULT,
    url: Annotated[str | None, typer.Option("--url", help="Download from this URL instead of the known sources "
                                            "(http, https or ftp).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Convert this checkpoint, downloaded by hand, "
                                              "instead of downloading.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch and convert again even if cached.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the server.")] = 30.0,
    retries: Annotated[int, typer.Option("--retries", min=1, help="Attempts per source for a transfer that "
                                         "breaks off (each resumes).")] = 3,
    trust_checkpoint: Annotated[bool, typer.Option("--trust-checkpoint", help="Unpickle arbitrary objects "
                                                   "(only for a file you trust).")] = False,
) -> int:
    """Download a released checkpoint (explicitly: nothing else ever downloads), convert it into the cache, and
    make it available as --weights NAME."""
    entry = known_weights(name)
    if url is not None and file is not None:
        raise EfficientPSError("give --url or --file, not both")
    writable_cache()
    target = converted_path(name)
    if target.is_file() and not force:
        stderr.print(f"{name} is already in the cache: {target} (--force fetches it again)", markup=False)
        return 0
    if file is not None:
        _convert(entry, _local_original(file), trust_checkpoint)
    else:
        sources = (Source(url, "--url"),) if url else entry.sources
        _fetch_first(entry, sources, force, timeout, retries, trust_checkpoint)
    stderr.print(f"next: efficientps segment VIDEO.mp4 --weights {name}", markup=False)
    return 0


def _fetch_first(entry: KnownWeights, sources: tuple[Source, ...], force: bool, timeout: float, retries: int,
                 trust: bool) -> None:
    """Try the sources in order until one gives a checkpoint that converts."""
    failures: list[DownloadError] = []
    for source in sources:
        try:
            original = _download(entry, source, force, timeout, retries)
        except DownloadError as err:
            failures.append(err)
            continue
        from model.official import UntrustedCheckpointError  # torch, only once there is something to convert
        from model.weights import WeightsFileError

        try:
            _convert(entry, original, trust)
            return
        except UntrustedCheckpointError:
            raise  # the file is fine; the user decides (it stays in the cache for the next run)
        except WeightsFileError as err:
            original.path.unlink(missing_ok=True)
            failures.append(DownloadError(source.url, f"downloaded, but not usable ({err}); deleted"))
    raise EfficientPSError(_manual_route(entry, sources, failures))


def _download(entry: KnownWeights, source: Source, force: bool, timeout: float, retries: int) -> _Original:
    dest = downloads_dir() / (Path(urllib.parse.unquote(urllib.parse.urlsplit(source.url).path)).name
                              or f"{entry.name}.download")
    if force:
        dest.unlink(missing_ok=True)
    if dest.is_file():  # a complete earlier download whose conversion did not finish
        stderr.print(f"using {dest} (downloaded before)", markup=False)
        return _Original(dest, source.url, dest.stat().st_size, file_sha256(dest))
    stderr.print(f"downloading {source.url} ({source.label})", markup=False)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task(dest.name, total=None)
        got = download(source.url, dest, timeout=timeout, retries=retries,
                       progress=lambda done, total: bar.update(task, completed=done, total=total),
                       expected_size=entry.size, expected_sha256=entry.sha256)
    resumed = f", resumed after {got.resumed_from / 1e6:.1f} MB" if got.resumed_from else ""
    stderr.print(f"downloaded {dest.name}: {got.size / 1e6:.1f} MB ({got.size} bytes), SHA-256 {got.sha256}{resumed}",
                 markup=False)
    return _Original(dest, source.url, got.size, got.sha256)


def _local_original(file: Path) -> _Original:
    if not file.is_file():
        raise EfficientPSError(f"--file {file}: no such file")
    original = _Original(file, file.resolve().as_uri(), file.stat().st_size, file_sha256(file))
    stderr.print(f"using {file}: {original.size / 1e6:.1f} MB ({original.size} bytes), SHA-256 {original.sha256}",
                 markup=False)
    return original


def _convert(entry: KnownWeights, original: _Original, trust: bool) -> None:
    """Convert into the cache (atomically), then record where it came from."""
    from efficientps_app.commands.import_weights import convert_release

    target = converted_path(entry.name)
    convert_release(original.path, target, entry.name, trust=trust,
                    extra={"source_url": original.url, "source_sha256": original.sha256})
    write_record(FetchRecord(entry.name, original.url, str(original.path), original.size, original.sha256,
                             str(target), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))


def _manual_route(entry: KnownWeights, sources: tuple[Source, ...], failures: list[DownloadError]) -> str:
    """One line: why the sources failed (a shared reason once), and how to do it by hand."""
    reasons = list(dict.fromkeys(f.reason for f in failures))
    if len(failures) > 1 and len(reasons) == 1 and all(f.unreachable for f in failures):
        why = f"none of its {len(failures)} sources could be reached ({reasons[0]})"
    else:
        why = "; ".join(str(f) for f in failures)
    first = sources[0].url
    return (f"could not fetch {entry.name}: {why}. By hand: download {first}"
            + (" (or another source in 'efficientps weights list')" if len(sources) > 1 else "")
            + f", then run 'efficientps weights fetch {entry.name} --file "
            f"{Path(urllib.parse.urlsplit(first).path).name or 'FILE'}'")
