"""efficientps: panoptic segmentation of images and street video with EfficientPS."""

from importlib import metadata

try:
    __version__ = metadata.version("efficientps")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
