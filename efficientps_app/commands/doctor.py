"""``efficientps doctor``: what this machine offers EfficientPS (the probes are in :mod:`efficientps_app.doctor`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from efficientps_app.console import stdout
from efficientps_app.doctor import Check, run_checks
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
        stdout.print(verdict(checks), markup=False, soft_wrap=True)
    return EXIT_ERROR if any(c.required and c.status == "missing" for c in checks) else EXIT_OK


def verdict(checks: list[Check]) -> str:
    """The doctor's last line: what this machine is ready for (CPU, CUDA, ONNX Runtime, video, viewer) and
    what is missing for the rest, e.g. ``verdict: ready for CPU, ONNX Runtime (CPU), video, viewer; not for
    CUDA (no CUDA device)``."""
    missing = [c.name for c in checks if c.required and c.status == "missing"]
    if missing:
        return f"verdict: not ready: {', '.join(missing)} not usable (see docs/installation.md)"
    status = {c.name: c.status for c in checks}
    ready, not_ready = ["CPU"], []
    for target, name, limited, absent in _TARGETS:
        state = status.get(name, "missing")
        if state == "ok":
            ready.append(target)
        elif state == "warn" and limited is not None:
            ready.append(f"{target} ({limited})")
        else:
            not_ready.append(f"{target} ({absent})")
    return f"verdict: ready for {', '.join(ready)}" + (f"; not for {', '.join(not_ready)}" if not_ready else "")


# (target, the check it rests on, what a warning of that check leaves usable or None, why it is not usable)
_TARGETS = (
    ("CUDA", "CUDA", None, "no CUDA device"),
    ("ONNX Runtime", "onnxruntime", "CPU", "onnxruntime not installed"),
    ("video", "PyAV", "without libx264 or aac", "PyAV not installed"),
    ("viewer", "Qt (PySide6)", None, "PySide6 not installed"),
)
