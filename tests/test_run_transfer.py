"""pack-run / unpack-run: a run folder cut into checked parts and rebuilt exactly."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.training.run_transfer import pack_run, unpack_run


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    folder = tmp_path / "00003-dctnet"
    (folder / "checkpoints").mkdir(parents=True)
    rng = np.random.default_rng(0)
    torch.save({"step": 7, "w": torch.from_numpy(rng.standard_normal(40_000).astype(np.float32))},
               folder / "checkpoints" / "latest.pt")
    (folder / "config.json").write_text(json.dumps({"loop": {"total_steps": 10}}))
    (folder / "stats.jsonl").write_text('{"step": 7}\n')
    (folder / "events.out.tfevents.1").write_bytes(rng.bytes(3000))
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip_is_exact_and_parts_respect_the_limit(run: Path, tmp_path: Path) -> None:
    packed = pack_run(run, tmp_path / "out", part_bytes=50_000)
    sizes = [p.stat().st_size for p in packed.parts]
    assert len(sizes) >= 4 and max(sizes) <= 50_000 and all(s == 50_000 for s in sizes[:-1])
    assert sum(sizes) == packed.total_bytes
    assert [p.name for p in packed.parts][:2] == ["00003-dctnet.tar.000", "00003-dctnet.tar.001"]
    rebuilt = unpack_run(packed.manifest, tmp_path / "device")
    assert rebuilt == tmp_path / "device" / "00003-dctnet"
    assert _tree(rebuilt) == _tree(run)
    state = torch.load(rebuilt / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 7


def test_skip_leaves_files_out(run: Path, tmp_path: Path) -> None:
    packed = pack_run(run, tmp_path / "out", skip=("events.*",))
    assert "events.out.tfevents.1" not in json.loads(packed.manifest.read_text())["files"]
    rebuilt = unpack_run(packed.manifest, tmp_path / "device")
    assert not (rebuilt / "events.out.tfevents.1").exists() and (rebuilt / "stats.jsonl").is_file()


def test_damaged_missing_or_reordered_parts_are_refused_before_anything_is_written(run: Path, tmp_path: Path) -> None:
    packed = pack_run(run, tmp_path / "out", part_bytes=50_000)
    dest = tmp_path / "device"
    blob = bytearray(packed.parts[1].read_bytes())
    blob[100] ^= 0xFF
    packed.parts[1].write_bytes(bytes(blob))
    with pytest.raises(InputError, match="does not match its checksum"):
        unpack_run(packed.manifest, dest)
    packed.parts[1].write_bytes(packed.parts[1].read_bytes()[:-10])
    with pytest.raises(InputError, match="cut short"):
        unpack_run(packed.manifest, dest)
    packed.parts[1].unlink()
    with pytest.raises(InputError, match="is missing"):
        unpack_run(packed.manifest, dest)
    assert not dest.exists()
    # Two parts swapped in the manifest: each checks out alone, the whole does not.
    good = pack_run(run, tmp_path / "out2", part_bytes=50_000)
    record = json.loads(good.manifest.read_text())
    record["parts"][0], record["parts"][1] = record["parts"][1], record["parts"][0]
    good.manifest.write_text(json.dumps(record))
    with pytest.raises(InputError, match="do not add up"):
        unpack_run(good.manifest, dest)


def test_nothing_is_overwritten(run: Path, tmp_path: Path) -> None:
    packed = pack_run(run, tmp_path / "out")
    with pytest.raises(InputError, match="already exists"):
        pack_run(run, tmp_path / "out")
    unpack_run(packed.manifest, tmp_path / "device")
    (tmp_path / "device" / "00003-dctnet" / "stats.jsonl").write_text("mine\n")
    with pytest.raises(InputError, match="already exists"):
        unpack_run(packed.manifest, tmp_path / "device")
    assert (tmp_path / "device" / "00003-dctnet" / "stats.jsonl").read_text() == "mine\n"


def test_max_parts_and_bad_inputs(run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs more than 2 parts"):
        pack_run(run, tmp_path / "out", part_bytes=50_000, max_parts=2)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    with pytest.raises(InputError, match="not a run folder"):
        pack_run(tmp_path / "nope", tmp_path / "out")
    bad = tmp_path / "bad.manifest.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read the manifest"):
        unpack_run(bad, tmp_path / "device")
    bad.write_text(json.dumps({"format": "toonforge-packed-run-1", "run": "../evil", "parts": []}))
    with pytest.raises(InputError, match="outside its folder"):
        unpack_run(bad, tmp_path / "device")


def test_an_archive_reaching_outside_the_run_is_refused(tmp_path: Path) -> None:
    # A hand-made manifest whose single (correctly checksummed) part holds a file of another folder.
    src = tmp_path / "other.txt"
    src.write_text("x")
    part = tmp_path / "pk" / "run.tar.000"
    part.parent.mkdir()
    with tarfile.open(part, "w") as tar:
        tar.add(src, arcname="elsewhere/other.txt")
    import hashlib
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    manifest = part.parent / "run.manifest.json"
    manifest.write_text(json.dumps({"format": "toonforge-packed-run-1", "run": "run", "sha256": digest,
                                    "parts": [{"file": part.name, "bytes": part.stat().st_size, "sha256": digest}]}))
    with pytest.raises(InputError, match="outside run/"):
        unpack_run(manifest, tmp_path / "device")
    assert not (tmp_path / "device" / "elsewhere").exists()


def test_cli_round_trip_and_one_line_errors(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["pack-run", str(run), "--out", str(tmp_path / "out"), "--part-mib", "0.05"]) == 0
    assert "part(s)" in capsys.readouterr().out
    manifest = tmp_path / "out" / "00003-dctnet.manifest.json"
    assert main(["unpack-run", str(manifest), "--into", str(tmp_path / "device")]) == 0
    assert _tree(tmp_path / "device" / "00003-dctnet") == _tree(run)
    assert main(["unpack-run", str(manifest), "--into", str(tmp_path / "device")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "already exists" in err and len(err.splitlines()) == 1
