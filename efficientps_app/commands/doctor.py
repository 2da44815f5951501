"""``efficientps doctor``: what this machine offers EfficientPS (the probes are in :mod:`efficientps_app.doctor`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from efficientps_app.console import stdout
from efficientps_app.doctor import run_checks
from efficientps_app.errors import EXIT_ERROR, EXIT_OK

_STYLE = {"ok": "green", "warn": "yellow", "missing": "red"}


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> int:
    """Check torch/CUDA, ONNX Runtime providers, OpenVINO devices, PyAV codecs (libx264), Qt and inplace_abn."""
    checks = run_checks()
    if as_json:
        typer.echo(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        table = Table(title="efficientps doctor", title_justify="left")
        for col in ("component", "status", "detail"):
            table.add_column(col)
        for c in checks:
            table.add_row(escape(c.name), f"[{_STYLE[c.status]}]{c.status}[/]", escape(c.detail))
        stdout.print(table)
    return EXIT_ERROR if any(c.required and c.status == "missing" for c in checks) else EXIT_OK
