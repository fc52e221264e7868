"""Error types that the CLI turns into one-line messages and exit codes.

Library code raises these; ``toonforge.cli`` catches them and prints ``error: <message>``.
Anything else that escapes is an internal failure (exit code 1).
"""

from __future__ import annotations


class ToonforgeError(Exception):
    """Base class for errors with a message meant for users. Exit code 1."""

    exit_code = 1


class InputError(ToonforgeError):
    """The user gave something unusable: a bad file, argument or config. Exit code 2."""

    exit_code = 2


class CheckpointError(InputError):
    """A weights file is missing, corrupt, unsafe, or of the wrong architecture."""


class MissingDependencyError(ToonforgeError):
    """An optional dependency (an extra) is needed for the requested feature."""

    exit_code = 2


def first_line(exc: BaseException | str) -> str:
    """The first non-empty line of an exception's message (its type name when it has none), so a
    third-party error fits the one-line ``error:`` rule."""
    text = exc if isinstance(exc, str) else str(exc)
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__ if isinstance(exc, BaseException) else ""
