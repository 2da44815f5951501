"""``efficientps import-weights``: the authors' released Cityscapes checkpoint as our weights file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from efficientps_app.commands.options import OverwriteOpt
from efficientps_app.console import stderr
from efficientps_app.errors import OutputError


def import_weights(
    checkpoint: Annotated[Path, typer.Argument(help="The released .pth, or the .zip it is distributed in.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .safetensors to write.")] = Path(
        "efficientps_cityscapes.safetensors"),
    trust_checkpoint: Annotated[bool, typer.Option("--trust-checkpoint", help="Unpickle arbitrary objects "
                                                   "(only for a file you trust).")] = False,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Convert even if tensors are missing, "
                                                "extra or mis-shaped (they keep random values).")] = False,
    overwrite: OverwriteOpt = False,
) -> int:
    """Convert the official EfficientPS checkpoint (mmcv .pth/.zip) to a .safetensors file for every command."""
    from efficientps_app.outputs.files import refuse_existing
    from model.official import OFFICIAL_INPUT_SIZE, PROVENANCE, convert_official, read_official_checkpoint
    from model.weights import save_model, size_text

    if output.suffix != ".safetensors":
        raise OutputError(f"-o {output}: the output must end in .safetensors")
    refuse_existing([output], overwrite)
    with stderr.status(f"reading {checkpoint.name}"):
        state, dropped = read_official_checkpoint(checkpoint, trust=trust_checkpoint)
        model, report = convert_official(state, allow_partial=allow_partial)
    if report.missing or report.unexpected or report.mis_shaped:
        stderr.print(f"[bold yellow]warning:[/] partial conversion: {len(report.missing)} tensors missing, "
                     f"{len(report.unexpected)} unexpected, {len(report.mis_shaped)} mis-shaped; the missing ones "
                     "keep random values and the model's output is not the authors'")
    save_model(model, output, extra={"input_size": size_text(OFFICIAL_INPUT_SIZE), "provenance": PROVENANCE,
                                     "imported_from": checkpoint.name})
    stderr.print(f"mapped {report.mapped} tensors ({report.parameters / 1e6:.2f} M parameters) onto preset "
                 f"{report.preset}; dropped {', '.join(dropped) or 'nothing'}", markup=False)
    stderr.print(f"saved {output} (inference at {size_text(OFFICIAL_INPUT_SIZE)}, the official thresholds and normalisation)", markup=False)
    stderr.print(f"next: efficientps segment VIDEO.mp4 --weights {output}", markup=False)
    return 0
