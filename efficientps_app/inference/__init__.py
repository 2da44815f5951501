"""Stage 2, inference: frames in, panoptic results out.

``predictor`` (the Python API) owns the inference size, the filters and the batching and runs a backend:
``backends`` (PyTorch, and the shared contract) or ``onnx_backend`` (ONNX Runtime, reading models written by
``export``). ``tracking`` gives thing instances ids that are stable over a video; ``smoothing`` (opt-in)
smooths a video's stuff classes over time.
"""
