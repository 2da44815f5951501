"""The ``efficientps`` command: composes the subcommands in ``commands/``; errors go through one funnel."""

from __future__ import annotations

from typing import Annotated

import typer

from efficientps_app import __version__
from efficientps_app.commands import (data, doctor, evaluate, evaluate_video, export, import_weights, model_info,
                                      segment, train, view, weights)
from efficientps_app.commands.help import Command, Group
from efficientps_app.errors import run_funnelled

app = typer.Typer(
    name="efficientps",
    cls=Group,
    help="Panoptic segmentation of images and street video with EfficientPS.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"efficientps {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Panoptic segmentation of images and street video with EfficientPS.

    Exit codes: 0 success, 1 error (bad input, unusable weights), 2 usage error, 130 interrupted.
    """


app.command("segment", cls=Command)(segment.segment)
app.command("export-onnx", cls=Command)(export.export_onnx)
app.command("import-weights", cls=Command)(import_weights.import_weights)
app.add_typer(weights.weights_app, name="weights")
app.command("view", cls=Command)(view.view)
app.command("doctor", cls=Command)(doctor.doctor)
app.command("model-info", cls=Command)(model_info.model_info)
app.add_typer(data.data_app, name="data")
app.command("train", cls=Command)(train.train)
app.command("evaluate", cls=Command)(evaluate.evaluate)
app.command("evaluate-video", cls=Command)(evaluate_video.evaluate_video)


def main(args: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    return run_funnelled(typer.main.get_command(app), args)
