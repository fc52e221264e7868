"""Move a run folder through a channel that limits the size of each file.

A lent GPU machine hands back at most 8 files of 16 MiB, while a DCT-Net teacher's resumable
checkpoint alone is 34 MB. :func:`pack_run` writes a run folder as an uncompressed tar split into
numbered parts (``NAME.tar.000``, ``NAME.tar.001``, ...) of at most ``part_bytes`` each, plus
``NAME.manifest.json`` with the size and SHA-256 of every part and of the whole; weights do not
compress, so no compression is tried. :func:`unpack_run` checks every part against the manifest
and reads every member header before it writes anything: only folders and regular files below
the run's own folder are accepted (no links, devices, absolute paths or ``..``; tarfile's own
extraction filters are not relied on). It writes into a temporary folder renamed into place at
the end, and never replaces an existing folder. The round trip is exact: a run
unpacked elsewhere resumes as the original would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_write_text

__all__ = ["FORMAT", "PackedRun", "pack_run", "unpack_run"]

FORMAT = "toonforge-packed-run-1"
_MIB = 1 << 20


@dataclass(frozen=True)
class PackedRun:
    """What :func:`pack_run` wrote: the manifest and the parts, in order."""

    manifest: Path
    parts: list[Path]
    total_bytes: int


class _PartWriter(io.RawIOBase):
    """A write-only stream that cuts what it is given into files of at most ``limit`` bytes."""

    def __init__(self, stem: Path, limit: int) -> None:
        self.stem, self.limit = stem, limit
        self.parts: list[dict] = []
        self._file: io.BufferedWriter | None = None
        self._hash = hashlib.sha256()
        self.whole = hashlib.sha256()
        self.total = 0

    def writable(self) -> bool:
        return True

    def _roll(self) -> None:
        self._close_part()
        path = self.stem.with_name(f"{self.stem.name}.{len(self.parts):03d}")
        self._file = open(path, "xb")  # noqa: SIM115 (closed by _close_part)
        self._hash = hashlib.sha256()
        self.parts.append({"file": path.name, "bytes": 0, "sha256": ""})

    def _close_part(self) -> None:
        if self._file is not None:
            self._file.close()
            self.parts[-1]["sha256"] = self._hash.hexdigest()
            self._file = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            if self._file is None or self.parts[-1]["bytes"] >= self.limit:
                self._roll()
            take = min(len(view) - done, self.limit - self.parts[-1]["bytes"])
            chunk = view[done:done + take]
            self._file.write(chunk)
            self._hash.update(chunk)
            self.whole.update(chunk)
            self.parts[-1]["bytes"] += take
            self.total += take
            done += take
        return done

    def close(self) -> None:
        self._close_part()
        super().close()


def pack_run(run: str | os.PathLike[str], out: str | os.PathLike[str], *, part_bytes: int = 15 * _MIB,
             max_parts: int | None = None, skip: tuple[str, ...] = ()) -> PackedRun:
    """Pack the folder ``run`` into ``out`` as parts of at most ``part_bytes`` and a manifest.

    Args:
        skip: glob patterns (relative to ``run``) of files to leave out, e.g. ``("events.*",)``.
        max_parts: fail, leaving nothing behind, when more parts than this would be needed.

    Raises:
        InputError: ``run`` is not a folder, the part size is not positive, a part or manifest of
            the same name already exists in ``out`` (nothing is overwritten), or ``max_parts`` is
            exceeded.
    """
    run, out = Path(run), Path(out)
    if not run.is_dir():
        raise InputError(f"not a run folder: {run}")
    if part_bytes < 1:
        raise InputError(f"the part size must be positive, got {part_bytes} bytes")
    files = sorted(p for p in run.rglob("*") if p.is_file() and not any(
        p.relative_to(run).match(pattern) for pattern in skip))
    size = sum(p.stat().st_size for p in files)
    # tar adds a 512-byte header per file, padding to 512 and 1 KiB of end blocks (a bound, not exact).
    bound = size + 1024 * (len(files) + 2)
    if max_parts is not None and -(-bound // part_bytes) > max_parts:
        raise InputError(f"{run} ({size / _MIB:.1f} MiB) needs more than {max_parts} parts of "
                         f"{part_bytes / _MIB:g} MiB; leave files out or raise the part size")
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / f"{run.name}.manifest.json"
    stem = out / f"{run.name}.tar"
    parts = list(out.glob(f"{stem.name}.[0-9][0-9][0-9]"))
    if parts and not manifest.exists():  # parts without their manifest: debris of a killed pack-run
        for part in parts:
            part.unlink()
        parts = []
    taken = [p for p in [manifest, *parts] if p.exists()]
    if taken:
        raise InputError(f"{taken[0]} already exists; pack into an empty folder")
    writer = _PartWriter(stem, part_bytes)
    try:
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in files:
                tar.add(path, arcname=f"{run.name}/{path.relative_to(run).as_posix()}", recursive=False)
    except BaseException:
        writer.close()
        for part in writer.parts:
            (out / part["file"]).unlink(missing_ok=True)
        raise
    writer.close()
    record = {"format": FORMAT, "run": run.name, "bytes": writer.total, "sha256": writer.whole.hexdigest(),
              "files": [p.relative_to(run).as_posix() for p in files], "parts": writer.parts}
    atomic_write_text(manifest, json.dumps(record, indent=1) + "\n")
    return PackedRun(manifest, [out / p["file"] for p in writer.parts], writer.total)


def _read_manifest(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the manifest {path}: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(f"{path} is not a packed-run manifest (format {FORMAT})")
    try:
        name, parts = str(record["run"]), list(record["parts"])
        checks = [(str(p["file"]), int(p["bytes"]), str(p["sha256"])) for p in parts]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is a damaged packed-run manifest ({exc})") from None
    if not name or "/" in name or name in (".", "..") or any("/" in f for f, _, _ in checks):
        raise InputError(f"{path} names files outside its folder")
    return {"run": name, "parts": checks, "sha256": str(record.get("sha256", ""))}


class _PartReader(io.RawIOBase):
    """The parts of a packed run read back as one stream."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = iter(paths)
        self._file: io.BufferedReader | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        while True:
            if self._file is None:
                nxt = next(self._paths, None)
                if nxt is None:
                    return 0
                self._file = open(nxt, "rb")  # noqa: SIM115 (closed below)
            n = self._file.readinto(buffer)
            if n:
                return n
            self._file.close()
            self._file = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def _member_path(name: str, run: str, manifest: str) -> tuple[str, ...]:
    """The parts of a member's path below ``run/``; InputError for anything that could leave it."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        raise InputError(f"{manifest} holds a member with an unsafe path {name!r}; nothing was written")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise InputError(f"{manifest} holds {name!r}, which climbs out with '..'; nothing was written")
    if not parts or parts[0] != run:
        raise InputError(f"{manifest} holds {name!r}, outside {run}/; nothing was written")
    return parts[1:]


def _check_members(paths: list[Path], run: str, manifest: str) -> list[tuple[str, ...]]:
    """Read every member header of the archive (nothing is written): only folders and regular files
    below ``run/``, each named once. Returns their relative paths in archive order."""
    seen: dict[tuple[str, ...], bool] = {}
    reader = _PartReader(paths)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                rel = _member_path(member.name, run, manifest)
                if not (member.isreg() or member.isdir()):
                    kind = ("a symlink" if member.issym() else "a hard link" if member.islnk()
                            else "a device or special file")
                    raise InputError(f"{manifest} holds {member.name!r}, {kind}; a packed run holds only "
                                     "folders and files, so nothing was written")
                if rel in seen or any(rel[:i] in seen and not seen[rel[:i]] for i in range(1, len(rel))):
                    raise InputError(f"{manifest} holds {member.name!r} twice or below a file; nothing was written")
                seen[rel] = member.isdir()
    except tarfile.TarError as exc:
        raise InputError(f"the parts of {manifest} are not a readable archive: {exc}") from None
    finally:
        reader.close()
    return list(seen)


def _extract(paths: list[Path], run: str, manifest: str, root: Path) -> None:
    """Write the (already checked) folders and files of the archive below ``root``, creating each
    file afresh (``O_EXCL | O_NOFOLLOW``) so that nothing already on disk is followed or replaced."""
    umask = os.umask(0)
    os.umask(umask)
    root_real = os.path.realpath(root)
    reader = _PartReader(paths)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                rel = _member_path(member.name, run, manifest)
                target = root.joinpath(*rel) if rel else root
                if os.path.commonpath([root_real, os.path.realpath(target)]) != root_real:
                    raise InputError(f"{manifest} holds {member.name!r}, which resolves outside the target")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isreg():  # checked before; the archive changed under us
                    raise InputError(f"{manifest} changed while it was unpacked")
                target.parent.mkdir(parents=True, exist_ok=True)
                mode = (0o777 if member.mode & 0o100 else 0o666) & ~umask
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(member), out, _MIB)
                os.utime(target, (member.mtime, member.mtime))
    except tarfile.TarError as exc:
        raise InputError(f"the parts of {manifest} are not a readable archive: {exc}") from None
    finally:
        reader.close()


def unpack_run(manifest: str | os.PathLike[str], into: str | os.PathLike[str]) -> Path:
    """Check the parts listed in ``manifest`` (found beside it) and extract the run into ``into``.

    Returns the run folder ``into/NAME``. Packed runs come back from other machines, so they are
    untrusted: every part is checked against its size and SHA-256 and every member header is read
    *before* anything is written, and an archive holding anything but folders and regular files
    below ``NAME/`` (symlinks, hard links, devices, absolute paths, ``..``) is refused. The files
    are written below a temporary folder ``into/.NAME.unpacking`` and the run is renamed to
    ``into/NAME`` only when all of them are complete, so a refused or interrupted unpack leaves nothing behind
    (a temporary folder left by a killed run is removed by the next one).

    Raises :class:`InputError` when a part is missing, of the wrong size or checksum, the archive
    holds an unsafe member, or ``into/NAME`` already exists.
    """
    from ..io.outputs import claim_temp_folder, drop_temp_folder

    manifest = Path(manifest)
    record = _read_manifest(manifest)
    dest = Path(into) / record["run"]
    if dest.exists() or dest.is_symlink():
        raise InputError(f"{dest} already exists; unpack into another folder or move it away first")
    paths, whole = [], hashlib.sha256()
    for name, size, digest in record["parts"]:
        path = manifest.parent / name
        if not path.is_file():
            raise InputError(f"part {name} of {manifest.name} is missing from {manifest.parent}")
        if path.stat().st_size != size:
            raise InputError(f"part {name} is {path.stat().st_size} bytes, the manifest says {size} "
                             "(cut short in transfer?)")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_MIB), b""):
                h.update(block)
                whole.update(block)
        if h.hexdigest() != digest:
            raise InputError(f"part {name} does not match its checksum in {manifest.name}")
        paths.append(path)
    if record["sha256"] and whole.hexdigest() != record["sha256"]:
        raise InputError(f"the parts of {manifest.name} do not add up to the packed run (parts out of order?)")
    _check_members(paths, record["run"], manifest.name)
    tmp = claim_temp_folder(dest, "unpacking")
    try:
        _extract(paths, record["run"], manifest.name, tmp / record["run"])
        if dest.exists() or dest.is_symlink():
            raise InputError(f"{dest} appeared while unpacking; it was left as it is")
        os.rename(tmp / record["run"], dest)
    finally:
        drop_temp_folder(tmp)
    return dest
