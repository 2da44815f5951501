"""efficientps: panoptic segmentation of images and street video with EfficientPS.

The package follows the three stages of a run, joined by :mod:`~efficientps_app.pipeline`:

* :mod:`~efficientps_app.sources`: images, folders, globs, videos, webcams and streams as frames;
* :mod:`~efficientps_app.inference`: the predictor, its PyTorch and ONNX Runtime backends, export, tracking;
* :mod:`~efficientps_app.outputs`: output planning, sinks, rendering, the video writer, atomic files.

:mod:`~efficientps_app.weights` knows the released checkpoints, their cache and the explicit downloader
(``efficientps weights fetch``); ``assets`` the bundled demo weights and drive.

``cli`` composes the subcommands of ``commands/``; ``viewer/`` is the PySide6 viewer; ``errors`` is the one
error funnel. The Python API is importable from here: ``from efficientps_app import Predictor``.
"""

from importlib import metadata

try:
    __version__ = metadata.version("efficientps")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# The public API, imported on first use so that ``efficientps --version`` does not import torch.
_API = {
    "Predictor": "efficientps_app.inference.predictor",
    "Prediction": "efficientps_app.inference.predictor",
    "open_source": "efficientps_app.sources.dispatch",
    "render": "efficientps_app.outputs.render",
    "RenderOptions": "efficientps_app.outputs.render",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'efficientps_app' has no attribute {name!r}")
