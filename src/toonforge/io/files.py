"""Small file helpers shared by every writer: files appear complete or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def why_not_a_file(path: str | os.PathLike[str]) -> str:
    """Why ``path`` cannot be read as a regular file, for a one-line message: "no such file",
    "a symlink loop", "a broken symlink", "a FIFO, not a file", ..."""
    import stat

    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except OSError as exc:
        if p.is_symlink():
            return "a symlink loop" if exc.errno == 40 else f"a broken symlink (to {os.readlink(p)})"
        if exc.errno == 20:
            return "a path under a file, not a folder"
        return "no such file" if exc.errno == 2 else (exc.strerror or str(exc))
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"{what}, not a file"
    return "not a regular file"


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; it replaces ``path`` when the block ends.

    The temporary file (``.<name>.<random>.tmp``; give writers that append an extension, such as
    ``np.save``, an open file instead) is flushed to disk and renamed over ``path`` when the block
    exits normally, and is removed when it raises: ``path`` then keeps its old content. The
    folder is created when missing; the file gets the usual permissions (0666 less the umask,
    where mkstemp alone would leave it private). Temporary files of ``path`` that a killed run
    left are removed first (:func:`remove_stale_temps`).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(p)
    lock, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    hold_lock(lock)  # held while we write: tells remove_stale_temps this one is alive
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        use_umask(tmp)
        os.replace(tmp, p)
    finally:
        os.close(lock)
        if os.path.exists(tmp):
            os.unlink(tmp)


def use_umask(path: str | os.PathLike[str], mode: int = 0o666) -> None:
    """Give ``path`` the permissions a plain ``open`` would (``mode`` less the umask);
    ``mkstemp`` and ``mkdtemp`` make private 0600 / 0700 files and folders."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def hold_lock(fd: int) -> None:
    """Take an exclusive advisory lock on the open temporary file ``fd`` (released when it is
    closed, or when the process dies), so that :func:`remove_stale_temps` leaves it alone."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):
        pass


def _abandoned(path: Path) -> bool:
    """True when no live writer holds the lock of the temporary file ``path``."""
    try:
        import fcntl
    except ImportError:
        return False  # no way to tell: keep it
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that killed writers left beside ``target``: ``.NAME.*.tmp``
    (:func:`atomic_output`) and ``.STEM.*.partSUFFIX`` (the video writer), unless a live writer
    still holds one. Every writer calls it for its target, so the next run of a killed job
    cleans up after it. Returns what was removed."""
    t = Path(target)
    gone: list[Path] = []
    if not t.parent.is_dir():
        return gone
    for pattern in (f".{t.name}.*.tmp", f".{t.stem}.*.part{t.suffix}"):
        for p in t.parent.glob(pattern):
            if p.is_file() and not p.is_symlink() and _abandoned(p):
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


def atomic_write_stream(path: str | os.PathLike[str], write) -> Path:
    """Call ``write(fh)`` with a binary file open on a temporary name beside ``path``, then
    rename it onto ``path`` (:func:`atomic_output`); for writers such as ``np.save``."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return Path(path)
def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
