"""The bundled demo assets (``assets/`` of the source tree): synthetic-scene weights and a synthetic drive,
and the one rule for what to tell a user who runs the demo weights."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from efficientps_app.console import stderr
from efficientps_app.errors import WeightsError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_WEIGHTS = ASSETS / "efficientps_tiny_synthetic.safetensors"
DEMO_VIDEO = ASSETS / "demo_drive.mp4"
SYNTHETIC = "synthetic scenes"  # how the demo weights' header (``trained_on``) begins; exports carry it
NEXT_STEP = "efficientps weights fetch cityscapes"


def default_weights() -> Path:
    """The demo weights, used when no ``--weights`` is given."""
    if not DEMO_WEIGHTS.is_file():
        raise WeightsError(f"no --weights given and the bundled demo weights are missing ({DEMO_WEIGHTS}); "
                           "pass --weights FILE")
    return DEMO_WEIGHTS


def demo_notice(trained_on: str | None, source: str | int | Path | None) -> tuple[str, str] | None:
    """What to say when a model trained on synthetic scenes (the demo weights, or an export of them) runs:
    a note on the demo drive, a warning with the next step on anything else; None for other models.

    Args:
        trained_on: the ``trained_on`` entry of the model's metadata (safetensors header or ONNX props).
        source: the input as the user gave it (None: not known yet, e.g. the viewer without a file).

    Returns: (``note`` or ``warning``, one line), or None.
    """
    if not (trained_on or "").startswith(SYNTHETIC):
        return None
    if _is_demo_drive(source):
        return "note", (f"bundled demo weights, trained on synthetic scenes like this drive; for real footage: "
                        f"{NEXT_STEP}, then --weights cityscapes")
    what = "real footage" if source is None else f"{source}"
    return "warning", (f"these weights were trained only on synthetic scenes (the bundled demo), so their output on "
                       f"{what} is meaningless; for real footage run '{NEXT_STEP}' once and add '--weights cityscapes'")


def announce_demo(trained_on: str | None, source: str | int | Path | None, quiet: bool = False) -> None:
    """Print :func:`demo_notice` on stderr (a note only without ``quiet``; a warning always)."""
    notice = demo_notice(trained_on, source)
    if notice is not None and not (quiet and notice[0] == "note"):
        stderr.print(f"[yellow]{notice[0]}:[/] {escape(notice[1])}")


def _is_demo_drive(source: str | int | Path | None) -> bool:
    if not isinstance(source, (str, Path)):
        return False
    try:
        return Path(source).is_file() and Path(source).resolve() == DEMO_VIDEO.resolve()
    except OSError:
        return False
