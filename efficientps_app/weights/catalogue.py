"""The released EfficientPS weights we know and where they are served (their network facts and inference
defaults are :data:`model.official.RELEASES`, read only when needed: the CLI starts without torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from efficientps_app.errors import WeightsError

if TYPE_CHECKING:
    from model.official import OfficialRelease

OPENDR_MIRROR = "ftp://opendrdata.csd.auth.gr/perception/panoptic_segmentation/models"
# The authors named this server for the Cityscapes zip (DeepSceneSeg/EfficientPS issue #16); the KITTI zip is
# assumed to sit next to it under the name of their README link.
AUTHORS_SERVER = "http://panoptic.cs.uni-freiburg.de/static/models"


@dataclass(frozen=True)
class Source:
    """One place a checkpoint is served."""

    url: str
    label: str  # who serves it, in words


@dataclass(frozen=True)
class KnownWeights:
    """A released checkpoint that ``efficientps weights fetch`` can download and convert.

    Attributes:
        name: the name of its release in :data:`model.official.RELEASES`, and of ``--weights NAME``.
        sources: tried in this order; the first that yields a convertible checkpoint wins.
        size: bytes of the download when published (checked after the transfer), else None.
        sha256: hex digest of the download when published (checked), else None.
    """

    name: str
    sources: tuple[Source, ...]
    size: int | None = None
    sha256: str | None = None

    @property
    def release(self) -> OfficialRelease:
        """The network facts and inference defaults (imports torch)."""
        from model.official import RELEASES

        return RELEASES[self.name]


def _release(name: str, dropbox: str) -> KnownWeights:
    return KnownWeights(name, (
        Source(f"{OPENDR_MIRROR}/model_{name}.pth", "OpenDR mirror"),
        Source(f"{AUTHORS_SERVER}/efficientPS_{name}.zip", "the authors' server"),
        Source(f"https://www.dropbox.com/s/{dropbox}/efficientPS_{name}.zip?dl=1", "the authors' Dropbox"),
    ))


# Neither the size nor a checksum of these files is published: the size and SHA-256 of what was downloaded are
# recorded in the cache and printed, and the conversion (every key and shape checked) is the verification.
CATALOGUE: dict[str, KnownWeights] = {
    "cityscapes": _release("cityscapes", "zihqct9zum8eq66"),
    "kitti": _release("kitti", "4z3qiaew8qq7y8n"),
}
DEFAULT = "cityscapes"


def known_weights(name: str) -> KnownWeights:
    """The catalogue entry called ``name``.

    Raises:
        WeightsError: no such entry (the known names are listed).
    """
    if name not in CATALOGUE:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(CATALOGUE)} (see 'efficientps weights list')")
    return CATALOGUE[name]
