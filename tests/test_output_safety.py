"""The output-safety layer (toonforge.io.outputs) and its use by every command that writes.

The walk tests go through every subcommand of ``build_parser()``: each must declare what it reads
and writes, and for each declared output the layer must refuse the output being an input, lying
inside one, containing one, being a symlink or hard link to one, and ``--overwrite`` of a folder or
file toonforge did not write. A new command without a declaration fails here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from toonforge.cli.main import build_parser, main
from toonforge.cli.vocabulary import subcommands
from toonforge.errors import InputError
from toonforge.io.outputs import (
    MARKER,
    IOSpec,
    check_overwrite,
    claim_folder,
    guard,
    is_ours,
    record_file,
    replace_folder,
)

# Options that name something a command writes: each must be a declared output.
OUTPUT_OPTIONS = {"-o", "--output", "--out", "--into", "--runs", "--style-out", "--preview", "--calibration-dir"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser by name, nested ones too (``import onnx``)."""
    return subcommands(build_parser())


COMMANDS = _commands()


def _namespace(name: str, p: argparse.ArgumentParser, **values) -> argparse.Namespace:
    ns = argparse.Namespace(**{**{a.dest: a.default for a in p._actions if a.dest != "help"}, **p._defaults})
    ns.command = name
    for k, v in values.items():
        setattr(ns, k, v)
    return ns


def test_every_command_declares_its_inputs_and_outputs() -> None:
    for name, p in COMMANDS.items():
        spec = p.get_default("_io")
        assert isinstance(spec, IOSpec), f"`toonforge {name}` does not declare its paths (io.outputs.declare_io)"
        dests = {a.dest for a in p._actions}
        for d in [*spec.inputs, *spec.outputs]:
            assert d.removeprefix("style:") in dests, f"{name}: declared {d!r} is not an option"
        for a in p._actions:
            if set(a.option_strings) & OUTPUT_OPTIONS and a.dest not in ("runs",) or (
                    a.dest == "runs" and a.default is not None and not isinstance(a.default, list)):
                assert a.dest in spec.outputs, f"{name}: {a.option_strings} writes but is not a declared output"
    writers = sorted(n for n, p in COMMANDS.items() if p.get_default("_io").outputs)
    assert {"stylize", "video", "eval", "invert", "reshape", "unpack-run", "train-translator"} <= set(writers)


def test_edit_never_replaces_images_in_a_folder_it_did_not_write(tmp_path: Path, capsys) -> None:
    theirs = tmp_path / "pictures"
    theirs.mkdir()
    (theirs / "0.png").write_bytes(b"my picture")
    code = main(["edit", str(tmp_path / "g.safetensors"), "--latents", str(tmp_path / "l.npy"), "--fuse",
                 "-o", str(theirs)])
    assert code == 2 and "did not write" in capsys.readouterr().err
    assert (theirs / "0.png").read_bytes() == b"my picture"


def _cases():
    for name, p in COMMANDS.items():
        spec = p.get_default("_io")
        for out, kind in spec.outputs.items():
            for src in spec.inputs:
                yield pytest.param(name, src.removeprefix("style:"), out, kind, id=f"{name}:{src}->{out}")


def _refused(ns: argparse.Namespace, match: str | None = None) -> str:
    with pytest.raises(InputError, match=match) as info:
        with guard(ns):
            raise AssertionError("the command ran")
    return str(info.value)


def _as_input(value: Path, p: argparse.ArgumentParser, dest: str):
    action = next(a for a in p._actions if a.dest == dest)
    listed = action.nargs in ("+", "*") or isinstance(action, argparse._ExtendAction) \
        or isinstance(action.default, list)
    return [value] if listed else value


@pytest.mark.parametrize("name,src,out,kind", list(_cases()))
def test_every_writing_command_refuses_outputs_that_touch_its_inputs(tmp_path: Path, name, src, out, kind) -> None:
    p = COMMANDS[name]
    data = tmp_path / "data"
    data.mkdir()
    (data / "photo.png").write_bytes(b"mine")
    given = data / "photo.png" if kind == "file" else data  # a file output meets a file input
    ns = lambda o, i=given: _namespace(name, p, **{src: _as_input(i, p, src), out: o})  # noqa: E731
    _refused(ns(given), "is the input")  # out == in
    _refused(ns(data / "sub" / "x.bin" if kind == "file" else data / "sub", data), "inside the input")  # out in in
    link = tmp_path / ("link.bin" if kind == "file" else "link")
    link.symlink_to(given)
    _refused(ns(link), "is the input")  # a symlink to the input
    if kind == "file":
        hard = tmp_path / "hard.bin"
        os.link(given, hard)
        _refused(ns(hard), "is the input")  # a hard link of the input
    outer = tmp_path / "outer"
    (outer / "in").mkdir(parents=True)
    if kind == "parent":  # adds new entries only: may hold its inputs
        with guard(ns(outer, outer / "in")):
            pass
    else:
        _refused(ns(outer, outer / "in"))  # in inside out
    assert (data / "photo.png").read_bytes() == b"mine"


@pytest.mark.parametrize("name,out,kind", [
    (n, o, k) for n, p in COMMANDS.items() for o, k in p.get_default("_io").outputs.items()
    if k == "own-folder" or (k != "parent" and any(a.dest == "overwrite" for a in p._actions))])
def test_overwrite_never_replaces_what_toonforge_did_not_write(tmp_path: Path, name, out, kind) -> None:
    """--overwrite of a foreign file or folder is refused; an "own-folder" output (rewritten by
    the command as it likes) must be toonforge's or new even without --overwrite."""
    p = COMMANDS[name]
    if kind == "file":
        foreign = tmp_path / "theirs.bin"
        foreign.write_bytes(b"theirs")
    else:
        foreign = tmp_path / "theirs"
        foreign.mkdir()
        (foreign / "notes.txt").write_text("theirs")
    ns = _namespace(name, p, **{out: foreign, "overwrite": True})
    _refused(ns, "toonforge did not write")
    if kind == "own-folder":
        _refused(_namespace(name, p, **{out: foreign, "overwrite": False}), "toonforge did not write")
    # What toonforge wrote is replaced.
    if kind == "file":
        record_file(foreign)
    else:
        ours = claim_folder(tmp_path / "ours")
        (ours / "a.png").write_bytes(b"an earlier output")
        ns = _namespace(name, p, **{out: ours, "overwrite": True})
    with guard(ns):
        pass


def test_guard_marks_what_a_run_created_and_removes_what_a_failed_run_left_empty(tmp_path: Path) -> None:
    p = COMMANDS["sample"]
    out = tmp_path / "made"

    def ns():
        return _namespace("sample", p, output=out)

    with guard(ns()):
        out.mkdir()
        (out / "a.png").write_bytes(b"x")
    assert is_ours(out) and is_ours(out / "a.png")
    out2 = tmp_path / "failed"
    with pytest.raises(RuntimeError), guard(_namespace("sample", p, output=out2)):
        out2.mkdir()
        raise RuntimeError("boom")
    assert not out2.exists()
    # A file output is recorded in its folder's marker and stops being ours once someone changes it.
    f = tmp_path / "g.safetensors"
    with guard(_namespace("blend", COMMANDS["blend"], output=f, preview=None)):
        f.write_bytes(b"weights")
    assert is_ours(f) and not (tmp_path / MARKER).exists()  # nothing added beside a file
    f.write_bytes(b"someone else's weights, longer")
    with pytest.raises(InputError, match="did not write"):
        check_overwrite(f)


def test_folder_outputs_named_like_files_and_paths_under_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    for out, match in ((tmp_path / "out1.txt", "named like a file"), (tmp_path / "plain.txt" / "sub", "is a file")):
        _refused(_namespace("sample", COMMANDS["sample"], output=out), match)


def test_replace_folder_keeps_a_foreign_folder(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("keep")
    new = tmp_path / "new"
    new.mkdir()
    with pytest.raises(InputError, match="did not write"):
        replace_folder(new, theirs)
    assert (theirs / "keep.txt").read_text() == "keep" and new.is_dir()
    claim_folder(theirs2 := tmp_path / "ours")
    (theirs2 / "old.txt").write_text("old")
    (new / "fresh.txt").write_text("fresh")
    replace_folder(new, theirs2)
    assert sorted(p.name for p in theirs2.iterdir()) == ["fresh.txt"] and not new.exists()


# ----- the data-loss defects of issue 26, end to end -----


def _run(args, capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_reshape_overwrite_never_deletes_the_folder_it_is_given(tiny_style: Path, tmp_path: Path, capsys) -> None:
    mystyles = tmp_path / "mystyles"
    mystyles.mkdir()
    src = mystyles / "s"
    tiny_style.rename(src)
    (mystyles / "other-notes.txt").write_text("mine")
    code, err = _run(["reshape", src, "--out", mystyles, "--eyes", "1.2", "--overwrite"], capsys)
    assert code == 2 and "contains the input" in err and err.count("\n") == 1
    assert (src / "config.json").is_file() and (mystyles / "other-notes.txt").read_text() == "mine"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "work.txt").write_text("mine")
    code, err = _run(["reshape", src, "--out", foreign, "--eyes", "1.2", "--overwrite"], capsys)
    assert code == 2 and "did not write" in err and (foreign / "work.txt").read_text() == "mine"
    # Its own output is replaced, with the usual permissions.
    old = os.umask(0o022)
    try:
        assert _run(["reshape", src, "--out", tmp_path / "big", "--none", "--name", "first"], capsys)[0] == 0
        code, err = _run(["reshape", src, "--out", tmp_path / "big", "--none", "--name", "second", "--overwrite"],
                         capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    assert (tmp_path / "big").stat().st_mode & 0o777 == 0o755
    assert '"name": "second"' in (tmp_path / "big" / "config.json").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".big")]


def test_eval_never_writes_into_its_photos(tiny_style: Path, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "contact_sheet.png").write_bytes(b"my photo")
    code, err = _run(["eval", "--style", tiny_style, "--photos", photos, "--out", photos,
                      "--detector", "none", "--speed-photos", "0", "--quiet"], capsys)
    assert code == 2 and "is the input" in err
    assert (photos / "contact_sheet.png").read_bytes() == b"my photo"


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_one(tmp_path: Path) -> None:
    from fractions import Fraction

    import numpy as np

    from toonforge.io.files import atomic_write_text, hold_lock
    from toonforge.io.video import VideoWriter

    ck = tmp_path / "checkpoints"
    ck.mkdir()
    stale = ck / ".latest.pt.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    alive = ck / ".latest.pt.w0rk1ng.tmp"
    alive.write_bytes(b"being written")
    fd = os.open(alive, os.O_RDONLY)
    hold_lock(fd)  # a live writer's temporary file stays
    try:
        atomic_write_text(ck / "latest.pt", "new")
    finally:
        os.close(fd)
    assert not stale.exists() and alive.exists() and (ck / "latest.pt").read_text() == "new"
    other = ck / ".other.pt.k1ll3d.tmp"  # another target's: not this job's to remove
    other.write_bytes(b"x")
    atomic_write_text(ck / "latest.pt", "newer")
    assert other.exists()
    # The video writer: its .STEM.*.part.mp4 is cleaned up, and the output follows the umask.
    (tmp_path / ".clip.k1ll3d.part.mp4").write_bytes(b"half a video")
    old = os.umask(0o022)
    try:
        with VideoWriter(tmp_path / "clip.mp4", fps=Fraction(10), size=(32, 32)) as w:
            for i in range(3):
                w.write(np.full((32, 32, 3), 40 * i, np.uint8))
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "clip.mp4"]
    assert (tmp_path / "clip.mp4").stat().st_mode & 0o777 == 0o644


def test_copy_style_never_replaces_a_folder_that_holds_its_source(tiny_style: Path, tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    from toonforge.styles.style import Style, copy_style

    mystyles = claim_folder(tmp_path / "mystyles")  # even a folder toonforge made
    src = mystyles / "s"
    tiny_style.rename(src)
    style = Style.load(src)
    with pytest.raises(InputError, match="contains the input"):
        copy_style(style, mystyles, dc_replace(style.config, name="x"), overwrite=True)
    assert (src / "config.json").is_file()
