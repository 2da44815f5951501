"""The README's promises: the two fresh-machine commands exist and CI runs them; every documented command
exists in the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from efficientps_app.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_two_fresh_machine_commands_are_make_targets_that_ci_runs():
    block = README.split("## Two commands on a fresh machine", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: venv$", makefile, re.M) and re.search(r"^test: venv$", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make demo" in ci and "make test" in ci


def test_demo_assets_are_bundled():
    from efficientps_app.assets import DEMO_VIDEO, DEMO_WEIGHTS

    assert DEMO_WEIGHTS.is_file() and DEMO_WEIGHTS.stat().st_size < 15 * 2**20
    assert DEMO_VIDEO.is_file() and DEMO_VIDEO.stat().st_size < 10 * 2**20
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / image).is_file(), image


@pytest.mark.parametrize("command", sorted(set(re.findall(r"^efficientps ([a-z][a-z-]+(?: [a-z][a-z-]+)?)", README, re.M))))
def test_documented_commands_exist(command, capsys):
    words = command.split()
    if words[0] == "data" and len(words) == 1:
        words = ["data"]
    code = main([*words[:2], "--help"]) if words[0] == "data" else main([words[0], "--help"])
    assert code == 0, command
