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


def _crafted(folder: Path, build) -> Path:
    """A packed run whose one (correctly checksummed) part is the tar that ``build(tar)`` writes."""
    import hashlib

    folder.mkdir(parents=True)
    part = folder / "run.tar.000"
    with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    manifest = folder / "run.manifest.json"
    manifest.write_text(json.dumps({"format": "toonforge-packed-run-1", "run": "run", "sha256": digest,
                                    "parts": [{"file": part.name, "bytes": part.stat().st_size, "sha256": digest}]}))
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **kind) -> None:
    import io as _io

    info = tarfile.TarInfo(name)
    for k, v in kind.items():
        setattr(info, k, v)
    info.size = len(data) if info.type == tarfile.REGTYPE else 0
    tar.addfile(info, _io.BytesIO(data) if info.type == tarfile.REGTYPE else None)


def _symlink_chain(tar: tarfile.TarFile) -> None:
    # The CVE-2025-4517 shape: short symlinks to long folder names, nested until their expansion is
    # longer than PATH_MAX, so that realpath() gives up and tarfile's "data" filter lets a link
    # climb out through them; then a file written through that link (two folders above --into).
    comp, steps, path = "d" * 247, "abcdefghijklmnop", "run"
    for c in steps:
        _add(tar, f"{path}/{comp}", type=tarfile.DIRTYPE, mode=0o755)
        _add(tar, f"{path}/{c}", type=tarfile.SYMTYPE, linkname=comp)
        path = f"{path}/{comp}"
    linkpath = "/".join(steps) + "/" + "l" * 254
    _add(tar, f"run/{linkpath}", type=tarfile.SYMTYPE, linkname="../" * len(steps))
    _add(tar, "run/escape", type=tarfile.SYMTYPE, linkname=linkpath + "/../../..")
    _add(tar, "run/escape/victim.txt", b"owned")


@pytest.mark.parametrize("build", [
    _symlink_chain,
    lambda t: _add(t, "run/../../victim.txt", b"owned"),
    lambda t: _add(t, "/tmp/toonforge-victim-absolute.txt", b"owned"),
    lambda t: (_add(t, "run/a.txt", b"fine"), _add(t, "run/link", type=tarfile.LNKTYPE, linkname="../victim.txt")),
    lambda t: (_add(t, "run/a.txt", b"fine"), _add(t, "run/sym", type=tarfile.SYMTYPE, linkname="/etc")),
    lambda t: _add(t, "run/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3),
    lambda t: (_add(t, "run/a.txt", b"first"), _add(t, "run/a.txt", b"second")),
], ids=["symlink-chain", "dotdot", "absolute", "hardlink", "symlink", "device", "twice"])
def test_crafted_archives_are_refused_and_leave_nothing(tmp_path: Path, build) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    manifest = _crafted(tmp_path / "pk" / "in", build)
    into = tmp_path / "pk" / "device"
    with pytest.raises(InputError, match="nothing was written"):
        unpack_run(manifest, into)
    assert victim.read_text() == "mine"
    assert not Path("/tmp/toonforge-victim-absolute.txt").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["victim.txt", "pk", "in", "run.tar.000",
                                                                   "run.manifest.json"])
    assert not into.exists() or not any(into.iterdir())


def test_a_killed_unpack_is_cleaned_up_and_the_files_keep_the_umask(run: Path, tmp_path: Path) -> None:
    import os

    packed = pack_run(run, tmp_path / "out", part_bytes=50_000)
    stale = tmp_path / "device" / ".00003-dctnet.unpacking"
    stale.mkdir(parents=True)
    (stale / ".toonforge-output.json").write_text(json.dumps({"format": "toonforge-output-1", "folder": True}))
    (stale / "00003-dctnet").mkdir()
    (stale / "00003-dctnet" / "half.bin").write_bytes(b"x")  # what a killed unpack left
    old = os.umask(0o022)
    try:
        dest = unpack_run(packed.manifest, tmp_path / "device")
    finally:
        os.umask(old)
    assert _tree(dest) == _tree(run) and not stale.exists()
    assert (dest / "config.json").stat().st_mode & 0o777 == 0o644
    # A folder of that name that toonforge did not make is not deleted.
    (tmp_path / "device2" / ".00003-dctnet.unpacking").mkdir(parents=True)
    with pytest.raises(InputError, match="not written by toonforge"):
        unpack_run(packed.manifest, tmp_path / "device2")


def test_parts_a_killed_pack_left_without_a_manifest_are_replaced(run: Path, tmp_path: Path) -> None:
    first = pack_run(run, tmp_path / "out", part_bytes=50_000)
    first.manifest.unlink()  # killed before the manifest, its last write
    (tmp_path / "out" / "notes.txt").write_text("mine")
    again = pack_run(run, tmp_path / "out", part_bytes=80_000)
    assert unpack_run(again.manifest, tmp_path / "device").is_dir()
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="already exists"):  # a complete pack is never replaced
        pack_run(run, tmp_path / "out")
