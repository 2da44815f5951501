"""The package's public surface: the Python API from one short path, without importing torch for the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_python_api_from_the_package():
    from efficientps_app import Predictor, RenderOptions, open_source, render
    from efficientps_app.inference.predictor import Predictor as Defined

    assert Predictor is Defined and callable(render) and callable(open_source) and RenderOptions().alpha == 0.5
    with pytest.raises(ImportError, match="Nope"):
        from efficientps_app import Nope  # noqa: F401


def test_importing_the_package_and_the_cli_does_not_import_torch():
    code = "import sys, efficientps_app.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
