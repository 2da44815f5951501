"""Stage 1, input: what the user names becomes a :class:`~efficientps_app.sources.frames.Source` of frames.

``frames`` (the frame types every other stage uses) is at the bottom; ``images``, ``video`` (files through
PyAV) and ``live`` (webcams and streams) implement sources; ``dispatch.open_source`` is the one dispatcher
from a command-line string to a source.
"""
