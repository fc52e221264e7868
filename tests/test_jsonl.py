"""JSON-lines manifests: a torn last line (a killed writer) never swallows a record."""

from __future__ import annotations

from toonforge.io.jsonl import append_jsonl, read_jsonl


def test_append_after_a_torn_line_keeps_every_whole_record(tmp_path):
    path = tmp_path / "manifest.jsonl"
    assert read_jsonl(path) == []
    append_jsonl(path, [{"name": "a"}])
    with open(path, "ab") as fh:
        fh.write(b'{"name": "tor')  # a writer killed mid-line
    append_jsonl(path, [{"name": "b"}, {"name": "c"}])
    assert read_jsonl(path) == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert path.read_bytes().endswith(b'{"name": "c"}\n')


def test_non_objects_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('[1, 2]\n\n"text"\n{"k": 1}\n')
    append_jsonl(path, [])
    assert read_jsonl(path) == [{"k": 1}]
