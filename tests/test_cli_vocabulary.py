"""Every command speaks the vocabulary of toonforge.cli (its docstring): the walk goes through
every subcommand of ``build_parser()``, nested ones too, so a new command that drifts fails here.
Old spellings stay as hidden aliases that parse to the same value."""

from __future__ import annotations

import argparse
import re

import pytest

from toonforge.cli.main import _Parser, build_parser, main
from toonforge.cli.vocabulary import HelpFormatter, alias, subcommands, visible_options
from toonforge.io.outputs import IOSpec, declare_io

# Outputs that are not a command's main output keep descriptive names.
SECONDARY_OUTPUTS = {"--preview", "--cache", "--work", "--calibration-dir", "--runs"}
# Spellings the vocabulary replaced: they may remain only as hidden aliases.
RETIRED = re.compile(r"--(out|into|style-out|batch|in|inputs|num-blocks|head-size|w-[a-z-]+|[a-z-]+-weight)$")
# Commands whose -o/--output may lack --overwrite, and why.
NO_OVERWRITE = {
    # a trained product is refused when it exists (a new name each time; the run folder keeps the rest)
    "train-translator": "trained product", "train-encoder": "trained product", "distill": "trained product",
    "forge": "a resumable work folder (forge refuses a folder it did not make; a changed recipe needs a new -o)",
    # rewrites its numbered images on every run, only in a folder toonforge wrote (checked each time)
    "edit": "rewrites its own folder",
}


def _actions(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not isinstance(a, argparse._HelpAction)]


def _visible(p: argparse.ArgumentParser) -> set[str]:
    return {s for a in _actions(p) if a.help != argparse.SUPPRESS for s in visible_options(a)}


def vocabulary_problems(name: str, p: argparse.ArgumentParser) -> list[str]:
    """What ``toonforge name`` (parser ``p``) says against the vocabulary; empty when it complies."""
    problems = []
    if not p.description:
        problems.append("no description")
    if not issubclass(p.formatter_class, HelpFormatter):
        problems.append(f"help formatter {p.formatter_class.__name__} (defaults or hidden aliases not handled)")
    visible = _visible(p)
    for a in _actions(p):
        if a.help == argparse.SUPPRESS:
            continue
        if not a.help:
            problems.append(f"{'/'.join(visible_options(a)) or a.dest}: no help")
    problems += [f"{s}: a retired spelling shown in --help" for s in sorted(visible) if RETIRED.match(s)]
    spec = p.get_default("_io")
    outputs = spec.outputs if isinstance(spec, IOSpec) else {}
    main_output = None
    for dest, kind in outputs.items():
        shown = [s for a in _actions(p) if a.dest == dest and a.help != argparse.SUPPRESS for s in visible_options(a)]
        if set(shown) <= SECONDARY_OUTPUTS:
            continue
        if shown[:2] != ["-o", "--output"]:
            problems.append(f"main output {dest!r} is {'/'.join(shown)}, not -o/--output")
        main_output = kind
    is_trainer = name.startswith("train-")
    if (main_output is not None or is_trainer) and "--quiet" not in visible:
        problems.append("no --quiet")
    if main_output not in (None, "parent") and "--overwrite" not in visible and name not in NO_OVERWRITE:
        problems.append("writes -o/--output but has no --overwrite")
    if {"--out", "--into"} & set(p._option_string_actions) and "--output" not in visible:
        problems.append("--out/--into without -o/--output")
    return problems


COMMANDS = subcommands(build_parser())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_speaks_the_vocabulary(name: str) -> None:
    p = COMMANDS[name]
    assert vocabulary_problems(name, p) == [], f"toonforge {name}"
    text = p.format_help()  # renders (every %-format in help valid) and hides the old spellings
    for a in _actions(p):
        for old in getattr(a, "hidden_aliases", ()):
            assert not re.search(re.escape(old) + r"(?![\w-])", text), f"{name}: {old} shown in --help"


def test_a_drifting_command_is_caught() -> None:
    sub = argparse.ArgumentParser(prog="t").add_subparsers(parser_class=_Parser)
    p = sub.add_parser("train-thing", help="x")
    p.add_argument("--data")
    p.add_argument("--out", help="where it goes")
    p.add_argument("--batch", type=int, default=8, help="images per step")
    p.add_argument("--w-cycle", type=float, default=10.0, help="cycle weight")
    declare_io(p, inputs=["data"], outputs={"out": "file"})
    found = vocabulary_problems("train-thing", p)
    for expected in ["no description", "--data: no help", "--out: a retired", "--batch: a retired",
                     "--w-cycle: a retired", "not -o/--output", "no --quiet", "no --overwrite"]:
        assert any(expected in f for f in found), (expected, found)
    q = sub.add_parser("fine", description="d")
    q.add_argument("-o", "--output", dest="out", help="where it goes")
    alias(q, "--output", "--out")
    q.add_argument("--quiet", action="store_true", help="quiet")
    q.add_argument("--overwrite", action="store_true", help="replace")
    declare_io(q, outputs={"out": "file"})
    assert vocabulary_problems("fine", q) == []


def _parsed(argv: list[str]) -> dict:
    ns = vars(build_parser(argv[0]).parse_args(argv))
    return {k: v for k, v in ns.items() if k not in ("func",)}


@pytest.mark.parametrize("old, new", [
    (["eval", "--out", "r"], ["eval", "-o", "r"]),
    (["card", "s", "--out", "r"], ["card", "s", "--output", "r"]),
    (["translate", "--model", "m", "--in", "p", "--out", "o"],
     ["translate", "--model", "m", "--photos", "p", "-o", "o"]),
    (["align", "--in", "p", "--out", "o"], ["align", "p", "-o", "o"]),
    (["clean-pairs", "--pairs", "p", "--out", "o"], ["clean-pairs", "p", "-o", "o"]),
    (["pack-run", "r", "--out", "o"], ["pack-run", "r", "-o", "o"]),
    (["unpack-run", "m", "--into", "o"], ["unpack-run", "m", "-o", "o"]),
    (["reshape", "s", "--out", "o"], ["reshape", "s", "-o", "o"]),
    (["train-translator", "--inputs", "p", "--targets", "t", "--style-out", "s", "--w-gan", "0",
      "--w-perceptual", "0"],
     ["train-translator", "--photos", "p", "--targets", "t", "-o", "s", "--lambda-gan", "0",
      "--lambda-perceptual", "0"]),
    (["sample", "g", "-o", "o", "--batch", "3"], ["sample", "g", "-o", "o", "--batch-size", "3"]),
    (["train-dctnet", "--photos", "p", "--styles", "s", "--num-blocks", "2", "--w-tv", "0.5"],
     ["train-dctnet", "--photos", "p", "--styles", "s", "--n-blocks", "2", "--lambda-tv", "0.5"]),
    (["train-ugatit", "--photos", "p", "--styles", "s", "--identity-weight", "3", "--w-cycle", "4"],
     ["train-ugatit", "--photos", "p", "--styles", "s", "--lambda-identity", "3", "--lambda-cycle", "4"]),
    (["train-encoder", "g", "-o", "e", "--kl-weight", "0.1"], ["train-encoder", "g", "-o", "e", "--lambda-kl", "0.1"]),
    (["train-stylegan", "--data", "d", "--pl-weight", "0"], ["train-stylegan", "d", "--lambda-pl", "0"]),
    (["invert", "g", "p", "-o", "o", "--w-pixel", "2"], ["invert", "g", "p", "-o", "o", "--lambda-pixel", "2"]),
    (["video", "v.mp4", "-o", "o.mp4", "--head-only", "--head-size", "128"],
     ["video", "v.mp4", "-o", "o.mp4", "--head-only", "--size", "128"]),
    (["export", "--style", "classic", "-o", "c.onnx"], ["export", "classic", "-o", "c.onnx"]),
])
def test_old_spellings_still_parse_to_the_same_values(old: list[str], new: list[str]) -> None:
    assert _parsed(old) == _parsed(new)


def test_a_missing_input_is_reported_under_its_new_name(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["align", "-o", "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: the following arguments are required: IN") and "--in" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["unpack-run", "m"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "-o/--output" in err and "--into" not in err


def test_help_shows_defaults_but_not_empty_ones() -> None:
    text = COMMANDS["train-ugatit"].format_help()
    assert "(default: 1000.0)" in text and "--lambda-cam" in text  # was --w-cam, with no default shown
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: 0)" in COMMANDS["train-cyclegan"].format_help()  # --seed 0 is a default worth showing


def test_overwrite_starts_a_resuming_command_again(tmp_path) -> None:
    """align resumes into its -o folder; with --overwrite it starts again, and only in its own folder."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "crops"
    argv = ["align", str(photos), "-o", str(out), "--crop", "full", "--size", "32", "--quiet"]
    assert main(argv) == 0
    crop = out / "0.png"
    stale = crop.read_bytes()[:-1] + b"\x00"
    crop.write_bytes(stale)  # an earlier run's crop, kept by a resuming rerun...
    assert main(argv) == 0 and crop.read_bytes() == stale
    assert main([*argv, "--overwrite"]) == 0 and crop.read_bytes() != stale  # ...and redone with --overwrite
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.png").write_bytes(b"mine")
    assert main(["align", str(photos), "-o", str(theirs), "--crop", "full", "--overwrite", "--quiet"]) == 2
    assert (theirs / "keep.png").read_bytes() == b"mine"
