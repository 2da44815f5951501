"""Training and evaluation of EfficientPS on Cityscapes (or the synthetic stand-in).

``data``, ``transforms`` and ``sampler`` feed the loop; ``losses`` weights the model's loss terms;
``loop`` trains (one process or DDP), checkpoints every epoch (``checkpoint``) and logs (``metrics``);
``schedule`` and ``config`` hold the recipes; ``evaluate``, ``pq`` and ``panoptic_io`` score models and
COCO-panoptic files as cityscapesscripts does; ``prepare`` writes the panoptic ground truth; ``synth`` and
``synth_video`` render synthetic streets. Video: ``video_panoptic`` (ground truth of every frame and
predictions of a video, side by side), ``video_metrics`` (STQ, VPQ, id switches), ``video_oracle`` (the
tracker alone, on spoiled ground truth).
"""
