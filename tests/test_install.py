"""constraints.txt resolves on every Python the README names, without installing anything.

pip resolves for another interpreter with ``pip --python PYTHON install --dry-run``: markers such as
``python_version < "3.11"`` are then evaluated for that interpreter, which ``--python-version`` would not do.
Each supported version is checked where an interpreter for it is found (on PATH or under pyenv) and the
package index answers; otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from efficientps_app.doctor import cuda_major

ROOT = Path(__file__).resolve().parents[1]
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]
# The extras each Python must resolve: the gpu extra's CUDA 13 onnxruntime-gpu has no Python 3.10 wheels.
EXTRAS = {"3.10": "cpu,dev", "3.11": "cpu,gpu,dev", "3.12": "cpu,gpu,dev", "3.13": "cpu,gpu,dev"}


def _interpreter(version: str) -> str | None:
    """A working Python ``version``: ``python{version}`` on PATH, else the newest pyenv build of it."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    builds = sorted(root.glob(f"{version}.*/bin/python{version}"),
                    key=lambda p: tuple(int(x) for x in p.parts[-3].split(".") if x.isdigit()))
    for candidate in [shutil.which(f"python{version}"), *map(str, reversed(builds))]:
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)  # a pyenv shim of another version fails here
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def _name(distribution: str) -> str:
    return distribution.strip().lower().replace("_", "-").replace(".", "-")


def _index_reachable(timeout_s: float = 5.0) -> bool:
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
    host = urlparse(url).hostname or "pypi.org"
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("version", SUPPORTED)
def test_constraints_resolve_for_each_supported_python(version, tmp_path):
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter here (python{version} on PATH or pyenv)")
    if not _index_reachable():
        pytest.skip("the package index is not reachable (no network)")
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "--python", python, "install", "--dry-run", "--ignore-installed",
           "--prefer-binary", "--retries", "1", "--timeout", "60", "--report", str(report),
           "-c", str(ROOT / "constraints.txt"), f"{ROOT}[{EXTRAS[version]}]"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "PIP_NO_INPUT": "1"})
    if "--python" in done.stderr and "no such option" in done.stderr:
        pytest.skip("this pip cannot resolve for another interpreter (pip >= 22.3 needed)")
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = {_name(item["metadata"]["name"]): item["metadata"] for item in json.loads(report.read_text())["install"]}
    pinned = {_name(line.split("==")[0])
              for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line and not line.startswith("#")}
    unpinned = sorted(set(chosen) - pinned - {"efficientps", "setuptools"})
    assert not unpinned, f"resolved without a pin in constraints.txt: {unpinned}"
    assert chosen["torch"]["version"].startswith("2.14.1")
    if "gpu" in EXTRAS[version]:
        torch_cuda = cuda_major(chosen["torch"].get("requires_dist", []))
        ort_cuda = cuda_major(chosen["onnxruntime-gpu"].get("requires_dist", []))
        assert torch_cuda is not None and ort_cuda == torch_cuda, (torch_cuda, ort_cuda)
