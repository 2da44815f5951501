"""Outputs are written whole or not at all, and every command refuses to replace a file the same way."""

from __future__ import annotations

import pytest

from efficientps_app.cli import main
from efficientps_app.errors import OutputError
from efficientps_app.outputs.files import atomic_path, refuse_existing, temp_path, write_text_atomic


def test_atomic_path_renames_on_success_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "sub" / "a.json"
    assert write_text_atomic(target, "{}") == target and target.read_text() == "{}"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "b.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"] and not temp_path(tmp_path / "b.json").exists()


def test_refuse_existing_names_what_exists(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    refuse_existing([a, b], overwrite=False)
    a.touch()
    b.touch()
    refuse_existing([a, b], overwrite=True)
    with pytest.raises(OutputError, match="a and 1 more already exist; pass --overwrite to replace them"):
        refuse_existing([a, b], overwrite=False)


@pytest.mark.parametrize("command", ["segment IN -o OUT.mp4 --weights W", "export-onnx --weights W -o OUT.onnx",
                                     "import-weights CKPT -o OUT.safetensors", "data synth-video OUT.mp4"])
def test_every_command_refuses_an_existing_output_alike(command, tiny_weights, tmp_path, capsys, monkeypatch):
    from tests.media import make_video

    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "IN", frames=2, audio=None)
    (tmp_path / "CKPT").write_bytes(b"not read: the output is checked first")
    out = next(a for a in command.split() if a.startswith("OUT"))
    (tmp_path / out).write_bytes(b"precious")
    args = [str(tiny_weights) if a == "W" else a for a in command.split()]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == f"error: {out} already exists; pass --overwrite to replace it\n"
    assert (tmp_path / out).read_bytes() == b"precious"
