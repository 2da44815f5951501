"""``efficientps import-weights``: a released checkpoint of the authors (Cityscapes or KITTI) as our weights file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from efficientps_app.commands.options import OverwriteOpt
from efficientps_app.console import stderr
from efficientps_app.errors import EfficientPSError, OutputError


def import_weights(
    checkpoint: Annotated[Path, typer.Argument(help="The released .pth, or the .zip it is distributed in.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="The .safetensors to write. "
                                                "Default: efficientps_RELEASE.safetensors.")] = None,
    release: Annotated[str, typer.Option("--release", help="Which checkpoint it is: cityscapes or kitti "
                                         "(sets the inference size it was tested at).")] = "cityscapes",
    trust_checkpoint: Annotated[bool, typer.Option("--trust-checkpoint", help="Unpickle arbitrary objects "
                                                   "(only for a file you trust).")] = False,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Convert even if tensors are missing, "
                                                "extra or mis-shaped (they keep random values).")] = False,
    overwrite: OverwriteOpt = False,
) -> int:
    """Convert an official EfficientPS checkpoint (mmcv .pth/.zip) to a .safetensors file for every command."""
    from efficientps_app.outputs.files import refuse_existing
    from model.official import RELEASES

    if release not in RELEASES:
        raise EfficientPSError(f"--release {release!r}: expected one of {', '.join(RELEASES)}")
    output = output or Path(f"efficientps_{release}.safetensors")
    if output.suffix != ".safetensors":
        raise OutputError(f"-o {output}: the output must end in .safetensors")
    refuse_existing([output], overwrite)
    convert_release(checkpoint, output, release, trust_checkpoint, allow_partial)
    stderr.print(f"next: efficientps segment VIDEO.mp4 --weights {output}", markup=False)
    return 0


def convert_release(checkpoint: Path, output: Path, release: str, trust: bool = False, allow_partial: bool = False,
                    extra: dict[str, str] | None = None) -> None:
    """Import ``checkpoint`` as ``release`` into ``output`` and say what was mapped (shared with ``weights fetch``)."""
    from model.official import RELEASES, import_checkpoint
    from model.weights import size_text

    with stderr.status(f"converting {checkpoint.name}"):
        report = import_checkpoint(checkpoint, output, RELEASES[release], trust=trust, allow_partial=allow_partial,
                                   extra=extra)
    if report.missing or report.unexpected or report.mis_shaped:
        stderr.print(f"[bold yellow]warning:[/] partial conversion: {len(report.missing)} tensors missing, "
                     f"{len(report.unexpected)} unexpected, {len(report.mis_shaped)} mis-shaped; the missing ones "
                     "keep random values and the model's output is not the authors'")
    stderr.print(f"mapped {report.mapped} tensors ({report.parameters / 1e6:.2f} M parameters) onto preset "
                 f"{report.preset}; dropped {', '.join(report.dropped) or 'nothing'}", markup=False)
    stderr.print(f"saved {output} ({release}: inference at {size_text(RELEASES[release].input_size)}, the official thresholds and normalisation)",
                 markup=False)
