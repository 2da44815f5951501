"""The collection manifest: one file per shard, newest record wins, torn lines ignored, done needs the outputs."""

from __future__ import annotations

from efficientps_app.outputs.manifest import MANIFEST_DIR, InputRecord, ManifestWriter, read_manifest


def test_shards_merge_and_the_newest_record_wins(tmp_path):
    ManifestWriter(tmp_path, "0-of-2").add(InputRecord("a.png", "failed", reason="bad", time=1.0))
    ManifestWriter(tmp_path, "1-of-2").add(InputRecord("b.png", "done", time=1.5))
    ManifestWriter(tmp_path, "0-of-1").add(InputRecord("a.png", "done", time=2.0))
    records = read_manifest(tmp_path)
    assert {k: r.state for k, r in records.items()} == {"a.png": "done", "b.png": "done"}
    assert sorted(p.name for p in (tmp_path / MANIFEST_DIR).iterdir()) == ["shard-0-of-1.jsonl", "shard-0-of-2.jsonl",
                                                                          "shard-1-of-2.jsonl"]


def test_a_torn_last_line_is_ignored_and_cut_when_the_shard_reopens(tmp_path):
    writer = ManifestWriter(tmp_path, "0-of-1")
    writer.add(InputRecord("a.png", "done", time=1.0))
    with writer.path.open("a") as f:
        f.write('{"input": "b.png", "sta')  # killed while writing
    assert list(read_manifest(tmp_path)) == ["a.png"]
    ManifestWriter(tmp_path, "0-of-1").add(InputRecord("c.png", "done", time=2.0))
    assert list(read_manifest(tmp_path)) == ["a.png", "c.png"]
    assert writer.path.read_text().count("\n") == 2


def test_done_counts_only_with_every_output_there(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    record = InputRecord("a.png", "done", outputs=("a.png", "a.jsonl"))
    assert not record.complete(tmp_path)
    (tmp_path / "a.jsonl").write_text("{}\n")
    assert record.complete(tmp_path)
    assert not InputRecord("a.png", "failed", outputs=("a.png",)).complete(tmp_path)
