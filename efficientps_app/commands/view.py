"""``efficientps view``: the PySide6 viewer (Qt is imported only here, lazily)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from efficientps_app.commands.options import DeviceOpt, HalfOpt, ImgszOpt, WeightsOpt
from efficientps_app.console import print_notes, stderr
from efficientps_app.errors import EfficientPSError, OutputError


def view(
    source: Annotated[str | None, typer.Argument(help="Image, folder, glob, video or webcam index.")] = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    half: HalfOpt = False,
    imgsz: ImgszOpt = None,
    screenshot: Annotated[Path | None, typer.Option("--screenshot", help="Render the window offscreen to this "
                                                    "PNG and exit.")] = None,
    frame: Annotated[int, typer.Option("--frame", min=0, help="With --screenshot: the frame to show.")] = 0,
    mode: Annotated[str, typer.Option("--mode", help="overlay, semantic, instances, boundaries or raw.")] = "overlay",
    compare: Annotated[str, typer.Option("--compare", help="off, 'side by side' or split.")] = "off",
    size: Annotated[tuple[int, int], typer.Option("--size", metavar="W H",
                                                  help="Window width and height.")] = (1280, 720),
) -> int:
    """Inspect panoptic overlays: modes, comparison, legend toggles, hover details, video playback, export."""
    from efficientps_app.outputs.render import VIEW_MODES
    from efficientps_app.viewer.window import COMPARE

    if mode not in VIEW_MODES:
        raise EfficientPSError(f"--mode {mode!r}: expected one of {', '.join(VIEW_MODES)}")
    if compare not in COMPARE:
        raise EfficientPSError(f"--compare {compare!r}: expected one of {', '.join(COMPARE)}")
    if screenshot is not None and source is None:
        raise EfficientPSError("--screenshot needs a SOURCE to show")
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if screenshot is not None and headless:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif headless and "QT_QPA_PLATFORM" not in os.environ:  # Qt would abort the process without a display
        raise EfficientPSError("no display here (DISPLAY/WAYLAND_DISPLAY unset): run the viewer on a desktop, "
                               "or render it with --screenshot OUT.png")
    from efficientps_app.assets import announce_demo, default_weights
    from efficientps_app.inference.predictor import Predictor

    predictor = Predictor(weights or default_weights(), device=device, half=half, imgsz=imgsz)
    print_notes(predictor.notes)
    announce_demo(predictor.backend.trained_on, source)
    from PySide6.QtWidgets import QApplication

    from efficientps_app.viewer.window import ViewerWindow

    app = QApplication.instance() or QApplication(["efficientps view"])
    window = ViewerWindow(predictor)
    window.resize(*size)
    window.set_mode(mode)
    window.compare_box.setCurrentText(compare)
    if source is not None and not window.open(int(source) if source.isdigit() else source):
        if screenshot is not None:
            raise EfficientPSError(window.last_error)
    if screenshot is None:
        window.show()
        return app.exec()
    window.show()
    if not window.wait_for_frame(frame):
        window.close()
        raise EfficientPSError(window.last_error or f"frame {frame} could not be shown")
    app.processEvents()
    image = window.grab()
    window.close()
    from efficientps_app.outputs.files import atomic_path

    with atomic_path(screenshot) as tmp:
        if not image.save(str(tmp)):
            raise OutputError(f"{screenshot}: could not write the screenshot")
    stderr.print(f"saved {screenshot} ({image.width()}x{image.height()})", markup=False)
    return 0

