"""The ``toonforge`` command: one argparse app with a subcommand per job.

Errors a user can fix print one line ``error: ...`` and exit 2; internal failures print one
line and exit 1 (set ``TOONFORGE_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..errors import ToonforgeError, first_line
from ..extras import missing_message

# Every subcommand: name -> (module in toonforge.cli, one-line help for `toonforge --help`).
# Only the module of the command being run is imported, so `toonforge --help`, `styles` and
# `stylize` never load the training stack (or PyTorch). To add a command, add its line here
# (in the order `--help` lists it) and give the module a ``register(sub)`` that adds a parser
# of that name with the same help; tests/test_cli_lazy.py checks the two agree.
COMMANDS: dict[str, tuple[str, str]] = {
    "stylize": ("stylize_cmd", "stylize photos (files or folders)"),
    "video": ("video_cmd", "stylize a video (faces tracked and smoothed, audio kept)"),
    "styles": ("styles_cmd", "list available styles"),
    "serve": ("serve_cmd", "serve styles over HTTP (needs the [serve] extra)"),
    "export": ("export_cmd", "export a style's network to ONNX (with a parity check)"),
    "train-translator": ("train_cmd", "train the lightweight translator on (photo, stylized) pairs"),
    "eval": ("eval_cmd", "measure styles on photos: metric table, contact sheet, training curves"),
    "card": ("card_cmd", "fill a style card's metrics section from an evaluation"),
    "app": ("app_cmd", "start the web app (needs the [app] extra)"),
    "blend": ("blend_cmd", "merge two StyleGAN2 generators (layer swap / smooth interpolation)"),
    "sample": ("sample_cmd", "sample a StyleGAN2 generator into a (paired) image dataset"),
    "train-stylegan": ("train_stylegan_cmd", "train a StyleGAN2 generator on a folder of style images (stage 1)"),
    "invert": ("invert_cmd", "invert photos into a StyleGAN2 generator's W+ space"),
    "edit": ("edit_cmd", "edit StyleGAN2 latents: attribute directions, face fusion, learning a direction"),
    "train-encoder": ("train_encoder_cmd", "train a Z+ encoder (AgileGAN) for a StyleGAN2 generator"),
    "translate": ("translate_cmd", "turn photos into photo/style pairs with a stage-2 generator"),
    "train-ugatit": ("train_ugatit_cmd",
                     "train U-GAT-IT (photo <-> style, unpaired), optionally keeping the background"),
    "train-dctnet": ("train_dctnet_cmd",
                     "train DCT-Net's texture translator (photo -> style) on unpaired folders"),
    "train-cyclegan": ("train_cyclegan_cmd", "train the CycleGAN baseline (photo <-> style) on unpaired folders"),
    "align": ("align_cmd", "crop and align the faces of a folder of portraits for training"),
    "pack-run": ("run_transfer_cmd", "split a run folder into checked parts of limited size"),
    "unpack-run": ("run_transfer_cmd", "check and rebuild a run folder packed by pack-run"),
    "reshape": ("reshape_cmd", "copy a style with a face reshape (anime-like eyes, mouth and chin)"),
    "clean-pairs": ("clean_pairs_cmd", "remove ink strokes on smooth skin from a teacher's pairs"),
    "train-twingan": ("train_twingan_cmd",
                      "train TwinGAN (one encoder and generator for photo and style; per-domain norms)"),
    "twin-search": ("twin_search_cmd",
                    "find the photos and style images nearest to a query in a TwinGAN's shared embedding"),
    "convert": ("convert_cmd", "write the G, G_ema and D of a StyleGAN2 snapshot as safetensors files"),
    "import": ("import_cmd", "turn an outside stylization model into a style folder"),
    "distill": ("distill_cmd", "distill any style into a small, fast translator style"),
    "face-video": ("face_video_cmd", "render a latent walk (edit direction or between faces) into a video"),
    "train-latent-generator": ("train_latent_generator_cmd",
                               "train per-class latent generators against an attribute classifier"),
    "train-faceswap": ("train_faceswap_cmd", "train a face swap (one encoder, a decoder per person) on two identities"),
    "faceswap-video": ("faceswap_video_cmd", "swap every face of a video into an identity of a train-faceswap model"),
    "forge": ("forge_cmd", "run a style recipe (TOML): align, teacher, pairs, student, eval, card"),
}


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # defaults shown, old spellings hidden (cli.vocabulary)
        from .vocabulary import HelpFormatter

        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        from .vocabulary import check_required

        namespace, extras = super().parse_known_args(args, namespace)
        check_required(self, namespace)
        return namespace, extras

    def error(self, message: str) -> None:  # usage errors: one line, exit 2
        from .vocabulary import without_aliases

        message = without_aliases(self, message)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None, *, load_all: bool = True) -> argparse.ArgumentParser:
    """The ``toonforge`` parser.

    Only ``command``'s module is imported and registered with all its options; every other
    command is listed by name and help line only. With no ``command`` and ``load_all`` (the
    default, for tests and docs) every module is imported and registered.
    """
    parser = _Parser(prog="toonforge", description="Stylize portraits, and forge new styles.")
    parser.add_argument("--version", action="version", version=f"toonforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    wanted = set(COMMANDS) if command is None and load_all else {command}
    # The wanted commands' modules first (a module may register more than one command, e.g.
    # pack-run and unpack-run), then a name-and-help placeholder for every other command.
    for name, (module_name, _) in COMMANDS.items():
        if name in wanted and name not in sub.choices:
            importlib.import_module(f"{__package__}.{module_name}").register(sub)
    for name, (_, help_line) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_line)
    return parser


def _style_folder(name: str) -> Path | None:
    """The folder of the style registered as ``name`` (for the output-safety layer), or None."""
    from ..styles.registry import available_styles, listed_styles

    name = name.rsplit("@", 1)[0]  # MODEL@STYLE: the multi-style model's folder
    if Path(name).is_dir():
        return Path(name)
    folders = available_styles()
    return folders.get(name) or listed_styles(folders).get(name)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from ..allocator import reuse_freed_memory

    reuse_freed_memory()  # frame-sized buffers reused, not page-faulted anew (see allocator.py)
    try:
        parser = build_parser(command_of(argv), load_all=False)
        args = parser.parse_args(argv)
        args.argv = argv  # recorded in reports and cards
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        from ..io.outputs import guard  # the output-safety layer (each command declares its paths)

        with guard(args, find_style=_style_folder):
            return int(args.func(args) or 0)
    except ToonforgeError as exc:  # one line, even when a file name holds a newline
        print("error: " + str(exc).replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (try a smaller --size or fewer images at once)", file=sys.stderr)
        return 1
    except Exception as exc:  # internal failure: one line unless debugging
        if os.environ.get("TOONFORGE_DEBUG"):
            raise
        missing = missing_message(exc.name or "") if isinstance(exc, ModuleNotFoundError) else None
        if missing:  # an optional extra (PyTorch, the server stack) is not installed
            print(f"error: {missing}", file=sys.stderr)
            return 2
        msg = first_line(exc)
        print(f"error: internal failure ({type(exc).__name__}: {msg}); "
              "rerun with TOONFORGE_DEBUG=1 for details", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
