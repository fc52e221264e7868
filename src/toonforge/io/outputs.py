"""Output safety: one layer every command that writes goes through.

The rules (the project's promise: nothing a user gave is overwritten, deleted or lost):

* An output that *is* an input, lies *inside* an input folder, or *contains* an input is
  refused in one ``error:`` line. Paths are compared as real paths (symlinks resolved) and as
  inodes (hard links, bind mounts), before anything is loaded or written.
* ``--overwrite`` replaces only what toonforge wrote. A folder toonforge creates gets a marker
  file :data:`MARKER`; a single file toonforge writes outside such a folder is recorded (real
  path, inode, size, mtime) in a ledger in toonforge's cache folder, so nothing is added beside
  it. A folder or file without that record is never replaced, nor one changed since.
* Files are written to a temporary name beside the target and renamed
  (:func:`toonforge.io.files.atomic_output`); temporary files a killed run left beside a target
  are removed by the next run of the same job (:func:`clean_stale_temps`).

For a command author, the whole API is one call in ``register``::

    from ..io.outputs import declare_io
    declare_io(p, inputs=["photos", "generator"], outputs={"output": "folder"})

``inputs`` names the argparse destinations holding paths the command reads (a value may be a
list; ``"style:NAME"`` resolves a style name through the registry, ``NAME`` alone takes the path
only when it exists). ``outputs`` maps destinations to their kind:

* ``"file"``: one file; ``"folder"``: a folder the command adds files to without replacing any
  it did not write (refused when it is an existing file, or when its name ends like a file, e.g.
  ``out.txt``); ``"own-folder"``: a folder the command fills and rewrites as it likes (results
  named by row, reports), which must therefore be new, empty or toonforge's even without
  ``--overwrite``; ``"auto"``: a file when the name has a suffix, else a folder;
* ``"parent"``: a folder in which the command only *adds* new entries that never replace anything
  (``--runs`` of the trainers, ``unpack-run --into``): it may contain inputs, and it is not
  subject to ``--overwrite``.

A command that writes nothing says so with ``declare_io(p)``. ``cli.main`` wraps every command in
:func:`guard`, which applies the checks from the declaration before the command runs and records
what it wrote afterwards; ``tests/test_output_safety.py`` walks every subcommand and fails for one
without a declaration. Library functions that write (``save_style``, ``unpack_run``) use
:func:`check_output`, :func:`check_overwrite` and :func:`claim_temp_folder` directly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

__all__ = ["MARKER", "IOSpec", "declare_io", "guard", "check_output", "check_overwrite", "is_ours",
           "claim_folder", "record_file", "claim_temp_folder", "drop_temp_folder", "clean_stale_temps",
           "replace_folder"]

MARKER = ".toonforge-output.json"
_FORMAT = "toonforge-output-1"
KINDS = ("file", "folder", "own-folder", "auto", "parent")
# Names that end like these are files; a "folder" output named so is a mistake (``-o out1.txt``).
FILE_SUFFIXES = frozenset(
    ".txt .json .jsonl .csv .md .png .jpg .jpeg .webp .bmp .gif .tif .tiff .npy .npz .pt .pth .ckpt .pkl "
    ".safetensors .onnx .mp4 .m4v .mov .mkv .avi .webm .tar .zip .gz .log .yaml .yml".split())


@dataclass(frozen=True)
class IOSpec:
    """What a command reads and writes, by argparse destination (see the module notes)."""

    inputs: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # output dest -> its option, for messages

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.outputs.items() if v not in KINDS}
        if bad:
            raise ValueError(f"unknown output kinds {bad}; use one of {KINDS}")


def declare_io(parser: argparse.ArgumentParser, *, inputs: Iterable[str] = (),
               outputs: dict[str, str] | None = None) -> None:
    """Record on ``parser`` which options are inputs and outputs; :func:`guard` enforces it."""
    outputs = dict(outputs or {})
    options = {a.dest: next((s for s in a.option_strings if s.startswith("--")), a.option_strings[0])
               for a in parser._actions if a.dest in outputs and a.option_strings}
    parser.set_defaults(_io=IOSpec(tuple(inputs), outputs, options))


def _as_paths(value) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [Path(v) for v in value if v is not None]
    return [Path(value)]


def _input_paths(args: argparse.Namespace, spec: IOSpec,
                 find_style: Callable[[str], Path | None] | None = None) -> list[Path]:
    """The existing input paths of ``args``; a ``style:`` input that names a style (not a path) is
    the folder ``find_style`` gives for the name (the caller knows the style registry; io does not)."""
    found: list[Path] = []
    for name in spec.inputs:
        style = name.startswith("style:")
        for p in _as_paths(getattr(args, name.removeprefix("style:"), None)):
            if p.exists():
                found.append(p)
            elif style and find_style is not None and (folder := find_style(str(p))) is not None:
                found.append(Path(folder))
    return found


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _hard_link_inside(folder: Path, inputs: list[Path], limit: int = 20000) -> Path | None:
    """An input file with more than one link that has a link inside ``folder`` (bounded scan)."""
    keys = {}
    for p in inputs:
        try:
            st = p.stat()
        except OSError:
            continue
        if p.is_file() and st.st_nlink > 1:
            keys[(st.st_dev, st.st_ino)] = p
    if not keys or not folder.is_dir():
        return None
    for n, (root, _dirs, files) in enumerate(os.walk(folder)):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in keys:
                return keys[(st.st_dev, st.st_ino)]
        if n > limit:
            break
    return None


def check_output(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], *,
                 kind: str = "auto", option: str = "the output") -> Path:
    """Refuse an output that is, lies inside or (unless ``kind == "parent"``) contains an input.

    Also refuses a "folder" output that is an existing file, lies under a regular file, or is
    named like a file, and a "file" output that is an existing folder. Returns the output path.
    """
    out = Path(output)
    name = _one_line(out)
    ro = _real(out)
    for parent in [out, *out.parents]:
        if parent.exists() or parent.is_symlink():
            if parent != out and not parent.is_dir():
                raise InputError(f"{option} {name}: {_one_line(parent)} is a file, not a folder")
            break
    if kind == "folder" and out.exists() and not out.is_dir():
        raise InputError(f"{option} {name} is a file; give a folder")
    if kind == "folder" and not out.exists() and out.suffix.lower() in FILE_SUFFIXES:
        raise InputError(f"{option} {name} is a folder output but is named like a file; give a folder name")
    if kind == "file" and out.is_dir():
        raise InputError(f"{option} {name} is a folder; give a file name")
    for src in inputs:
        src = Path(src)
        if not (src.exists() or src.is_symlink()):
            continue
        rs, what = _real(src), _one_line(src)
        if ro == rs or _same(out, src):
            raise InputError(f"{option} {name} is the input {what} (writing there would overwrite an input); "
                             "choose another output")
        if src.is_dir() and (_inside(ro, rs) or any(_same(p, src) for p in out.parents if p.exists())):
            raise InputError(f"{option} {name} lies inside the input folder {what}; choose an output outside it")
        if kind != "parent" and _inside(rs, ro):
            raise InputError(f"{option} {name} contains the input {what}; choose an output that does not")
    if kind != "parent" and out.is_dir():
        linked = _hard_link_inside(out, [Path(s) for s in inputs])
        if linked is not None:
            raise InputError(f"{option} {name} holds a hard link of the input {_one_line(linked)}; "
                             "choose another output")
    return out


def _one_line(p: Path | str) -> str:
    """A path for a one-line message: control characters (a newline in a name) escaped."""
    text = str(p)
    return text if text.isprintable() else repr(text)[1:-1]


def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == _FORMAT else None


def _write_marker(folder: Path, data: dict) -> None:
    from .files import atomic_write_text

    atomic_write_text(folder / MARKER, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _ledger() -> Path:
    """The record of single files toonforge wrote (``$TOONFORGE_CACHE/outputs.jsonl``, default
    ``~/.cache/toonforge/outputs.jsonl``): kept outside the user's folders, so a file written into
    one leaves nothing else there."""
    root = os.environ.get("TOONFORGE_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "toonforge") / "outputs.jsonl"


def _file_key(p: Path) -> dict | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return {"path": os.path.realpath(p), "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _ledger_entries() -> list[dict]:
    try:
        lines = _ledger().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a killed writer
        if isinstance(entry, dict):
            out.append(entry)
    return out


def is_ours(path: str | os.PathLike[str]) -> bool:
    """True for a folder toonforge created (it, or a folder above it, holds the marker), for a
    file inside such a folder, and for a file toonforge wrote and recorded (:func:`record_file`)
    that nobody has changed since (same inode, size and mtime)."""
    p = Path(path)
    if p.is_symlink():
        return False
    folders = [p] if p.is_dir() else []
    folders += list(p.parents)[:12]
    for folder in folders:
        data = _read_marker(folder)
        if data and data.get("folder"):
            return True
    key = _file_key(p) if p.is_file() else None
    return key is not None and key in _ledger_entries()


def check_overwrite(path: str | os.PathLike[str], *, option: str = "--overwrite") -> None:
    """Refuse to replace an existing ``path`` (file or folder) that toonforge did not write."""
    p = Path(path)
    if not (p.exists() or p.is_symlink()):
        return
    if p.is_dir() and not p.is_symlink() and not any(p.iterdir()):
        return  # an empty folder: nothing to lose
    if not is_ours(p):
        raise InputError(f"{option} would replace {_one_line(p)}, which toonforge did not write (no {MARKER} "
                         "record); move it away or choose a new or empty folder")


def claim_folder(folder: str | os.PathLike[str], by: str = "toonforge", *, created: bool = False) -> Path:
    """Create ``folder`` if needed and mark it as written by toonforge. Only for a folder that is
    new, empty, already ours, or that the caller knows it ``created``: a foreign folder with
    content is left unmarked."""
    f = Path(folder)
    f.mkdir(parents=True, exist_ok=True)
    data = _read_marker(f)
    if data is None and not created and any(e.name != MARKER for e in f.iterdir()):
        return f
    if not (data and data.get("folder")):
        _write_marker(f, {**(data or {}), "format": _FORMAT, "folder": True, "by": by})
    return f


def record_file(path: str | os.PathLike[str]) -> None:
    """Record the file ``path`` as written by toonforge (no-op inside a folder that is ours as a
    whole). Entries of files that are gone or changed are dropped as the record grows."""
    p = Path(path)
    key = _file_key(p) if p.is_file() else None
    if key is None or is_ours(p.parent):
        return
    ledger = _ledger()
    try:
        ledger.parent.mkdir(parents=True, exist_ok=True)
        entries = _ledger_entries()
        if len(entries) >= 5000:  # compact: keep what still matches a file on disk
            from .files import atomic_write_text

            keep = [e for e in entries if _file_key(Path(e.get("path", ""))) == e and e["path"] != key["path"]]
            atomic_write_text(ledger, "".join(json.dumps(e) + "\n" for e in keep))
        with open(ledger, "a", encoding="utf-8") as fh:  # one short append: whole or absent
            fh.write(json.dumps(key) + "\n")
    except OSError:
        pass  # not fatal: a later --overwrite of this file is refused, which is the safe side


def claim_temp_folder(dest: str | os.PathLike[str], tag: str) -> Path:
    """A fresh, marked temporary folder ``.NAME.TAG`` beside ``dest``, to fill and rename onto
    ``dest``. A marked one left by a killed run of the same job is removed first; an unmarked
    folder of that name is not ours and is refused."""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{tag}")
    if tmp.exists() or tmp.is_symlink():
        if tmp.is_symlink() or _read_marker(tmp) is None:
            raise InputError(f"{_one_line(tmp)} is in the way and was not written by toonforge; move it away")
        drop_temp_folder(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    _write_marker(tmp, {"format": _FORMAT, "folder": True, "by": f"toonforge ({tag})"})
    return tmp


def drop_temp_folder(tmp: str | os.PathLike[str]) -> None:
    """Delete a folder made by :func:`claim_temp_folder` (and nothing that is not marked)."""
    tmp = Path(tmp)
    if tmp.is_dir() and not tmp.is_symlink() and _read_marker(tmp) is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def clean_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files killed runs left beside ``target`` (see
    :func:`toonforge.io.files.remove_stale_temps`, which every toonforge writer calls)."""
    from .files import remove_stale_temps

    return remove_stale_temps(target)


def _state(p: Path) -> tuple | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (p.is_dir(), st.st_size, st.st_mtime_ns)


def _os_error_output(exc: OSError, outputs: list[Path]) -> Path | None:
    """The declared output an OSError was about (its file lies at or below it, or beside it)."""
    names = [n for n in (exc.filename, exc.filename2) if n]
    for name in names:
        real = _real(Path(os.fsdecode(name)))
        for out in outputs:
            ro = _real(out)
            if _inside(real, ro) or real.parent == ro.parent:
                return out
    return None


@contextmanager
def guard(args: argparse.Namespace, find_style: Callable[[str], Path | None] | None = None) -> Iterator[None]:
    """Apply the declaration of the command ``args`` belongs to (see the module notes).

    Before: every output is checked against every input (:func:`check_output`), and with
    ``--overwrite`` an existing output must be ours (:func:`check_overwrite`). After: a folder
    output the run created is marked as ours, a file output it wrote is recorded; when the run
    fails, a folder (or parent) output it created and left empty is removed. An OSError about a
    declared output (``-o /proc/x``, a full disk) becomes a one-line InputError.
    """
    spec: IOSpec | None = getattr(args, "_io", None)
    if spec is None or not spec.outputs:
        yield
        return
    inputs = _input_paths(args, spec, find_style)
    outs: list[tuple[Path, str, str]] = []
    for dest, kind in spec.outputs.items():
        for p in _as_paths(getattr(args, dest, None)):
            k = kind if kind != "auto" else ("folder" if (p.is_dir() or not p.suffix) else "file")
            option = spec.options.get(dest) or "--" + dest.replace("_", "-")
            check_output(p, inputs, kind="folder" if k == "own-folder" else k, option=option)
            if k == "own-folder" or (k != "parent" and getattr(args, "overwrite", False)):
                check_overwrite(p, option=option if k == "own-folder" else "--overwrite")
            k = "folder" if k == "own-folder" else k
            outs.append((p, k, option))
    before = {p: _state(p) for p, _, _ in outs}
    ok = False
    try:
        yield
        ok = True
    except OSError as exc:  # e.g. -o /proc/x.mp4, a full disk, a read-only folder: the user's to fix
        where = _os_error_output(exc, [p for p, _, _ in outs])
        if where is None:
            raise
        raise InputError(f"cannot write {_one_line(where)}: {exc.strerror or exc}") from None
    finally:
        by = "toonforge " + str(getattr(args, "command", "") or "")
        for p, kind, _ in outs:
            created = before[p] is None and p.is_dir() and not p.is_symlink()
            if kind in ("folder", "parent") and created:
                if not ok and not any(p.iterdir()):
                    p.rmdir()  # a failed run leaves no empty folder behind
                elif kind == "folder":  # a parent only gains entries: nothing to mark
                    claim_folder(p, by, created=True)
            elif kind == "file" and p.is_file() and _state(p) != before[p]:
                record_file(p)


def replace_folder(new: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Move the complete folder ``new`` to ``path``. An existing ``path`` must be ours
    (:func:`check_overwrite`); it is renamed aside first and deleted only once ``new`` is in
    place. ``new`` gets the usual permissions (0777 less the umask; ``mkdtemp`` makes 0700)."""
    from .files import use_umask

    new, path = Path(new), Path(path)
    use_umask(new, 0o777)
    old = None
    if path.exists() or path.is_symlink():
        check_overwrite(path)
        if not path.is_dir() or path.is_symlink():
            raise InputError(f"{_one_line(path)} is not a folder; it was left as it is")
        old = path.with_name(f".{path.name}.replaced")
        drop_temp_folder(old)  # left by a run killed between the two renames
        os.rename(path, old)
    os.rename(new, path)
    if old is not None:
        if _read_marker(old) is None:  # ours through a folder above it: mark before dropping
            _write_marker(old, {"format": _FORMAT, "folder": True, "by": "toonforge (replaced)"})
        drop_temp_folder(old)
    return path
