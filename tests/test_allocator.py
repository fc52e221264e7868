"""reuse_freed_memory: set once on glibc, and left alone when the user opts out or tuned glibc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = ("from toonforge.allocator import reuse_freed_memory as r; "
        "a = r(); b = r(); print(a, b)")


def _run(**env: str) -> str:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "TOONFORGE_KEEP_FREED_MEMORY")}
    out = subprocess.run([sys.executable, "-c", CODE], env={**base, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _glibc() -> bool:
    import platform

    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _glibc(), reason="the thresholds exist on glibc only")
def test_sets_the_thresholds_once_on_glibc():
    assert _run() == "True True"  # the second call answers the first one's result


def test_opt_out_and_user_tuning_are_respected():
    assert _run(TOONFORGE_KEEP_FREED_MEMORY="0") == "False False"
    assert _run(MALLOC_TRIM_THRESHOLD_="1000000") == "False False"
    assert _run(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1000000") == "False False"
