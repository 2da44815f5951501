"""Stage 3, output: where results go and how they are written.

``plan`` decides every output path of ``segment`` and builds the sinks; ``sinks`` write overlays, video,
COCO panoptic and JSONL; ``render`` draws overlays (also for the viewer); ``video_writer`` encodes H.264
with the source's timing and audio; ``exports`` writes semantic PNGs and instance crops, ``rle`` the JSONL's
masks; ``manifest`` records a collection run's inputs; ``files`` holds the write-then-rename helpers every
output uses.
"""
