"""``toonforge pack-run`` / ``unpack-run``: a run folder as parts that fit a per-file size limit."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pack-run", help="split a run folder into checked parts of limited size",
        description="Write RUN (a training run folder) into OUT as an uncompressed tar cut into parts "
        "RUN.tar.000, RUN.tar.001, ... of at most --part-mib MiB each, with RUN.manifest.json holding "
        "every part's size and SHA-256. For channels that limit file size (a lent GPU machine returns "
        "at most 8 files of 16 MiB). Nothing in OUT is overwritten.",
    )
    p.add_argument("run", type=Path, metavar="RUN", help="run folder to pack")
    p.add_argument("-o", "--output", dest="out", type=Path, required=True, help="folder for the parts and the manifest")
    p.add_argument("--part-mib", type=float, default=15.0, help="largest part, in MiB")
    p.add_argument("--max-parts", type=int, default=None, help="fail when more parts would be needed")
    p.add_argument("--skip", action="append", default=[], metavar="GLOB",
                   help="leave out files matching GLOB (relative to RUN; repeatable), e.g. 'events.*'")
    p.add_argument("--quiet", action="store_true", help="print nothing when it succeeds")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["run"], outputs={"out": "parent"})
    p.set_defaults(func=run_pack)

    u = sub.add_parser(
        "unpack-run", help="check and rebuild a run folder packed by pack-run",
        description="Check every part named in MANIFEST (found beside it) against its size and SHA-256, "
        "then extract the run folder into -o/--output. An existing folder of the same name is never replaced.",
    )
    u.add_argument("manifest", type=Path, metavar="MANIFEST", help="RUN.manifest.json written by pack-run")
    u.add_argument("-o", "--output", dest="into", type=Path, required=True, help="parent folder of the rebuilt run")
    u.add_argument("--quiet", action="store_true", help="print nothing when it succeeds")
    alias(u, "--output", "--into")
    declare_io(u, inputs=["manifest"], outputs={"into": "parent"})
    u.set_defaults(func=run_unpack)


def run_pack(args: argparse.Namespace) -> int:
    from ..training.run_transfer import pack_run

    packed = pack_run(args.run, args.out, part_bytes=int(args.part_mib * (1 << 20)),
                      max_parts=args.max_parts, skip=tuple(args.skip))
    if not args.quiet:
        print(f"{args.run} -> {len(packed.parts)} part(s), {packed.total_bytes / (1 << 20):.1f} MiB: {packed.manifest}")
    return 0


def run_unpack(args: argparse.Namespace) -> int:
    from ..training.run_transfer import unpack_run

    rebuilt = unpack_run(args.manifest, args.into)
    if not args.quiet:
        print(f"unpacked {rebuilt}")
    return 0
