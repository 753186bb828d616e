"""Writes that leave the whole result or nothing: a failed or interrupted run leaves
no file that looks like a result.

    write_text_atomic(path, text)   # written as a hidden temporary file, renamed into place

    @staged_report                  # every file of the report written into a hidden
    def write_x_report(summary, out_dir): ...   # directory, moved in once all are written

A rename within one directory (os.replace) is atomic on POSIX file systems, so a
reader sees the old file or the new one, never half of one. The temporary names
start with a dot and end in .tmp; they are removed if the write fails.
"""

from __future__ import annotations

import functools
import inspect
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["write_text_atomic", "staged_dir", "staged_report"]


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` (its directories created if need be) through a
    temporary file beside it; returns the path."""
    path = Path(os.path.realpath(path))  # through a symbolic link: its target is replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    # os.open with 0o666 keeps the umask's permissions, as a plain open() would
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def staged_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """A hidden directory to build ``out_dir``'s files in; when the block ends without
    an error they move into ``out_dir`` (created if need be), otherwise they are
    removed and ``out_dir`` is left as it was. A new ``out_dir`` appears at once (the
    staging directory is renamed); into an existing one each file is renamed."""
    out = Path(out_dir)
    fresh = not out.exists()
    if fresh:  # stage beside it, then rename the whole directory
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = _temporary_name(out.absolute())
    else:  # stage inside it: its parent need not be writable
        stage = out / f".{secrets.token_hex(4)}.tmp"
    stage.mkdir()
    try:
        yield stage
        if fresh:
            os.rename(stage, out)
        else:
            for item in sorted(stage.iterdir()):
                os.replace(item, out / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def staged_report(write: Callable[..., Path]) -> Callable[..., Path]:
    """``write(..., out_dir) -> a file in out_dir`` made all-or-nothing with
    ``staged_dir``: no plot is left behind when a later part of the report fails."""
    signature = inspect.signature(write)

    @functools.wraps(write)
    def staged(*args, **kwargs) -> Path:
        bound = signature.bind(*args, **kwargs)
        out = Path(bound.arguments["out_dir"])
        with staged_dir(out) as stage:
            bound.arguments["out_dir"] = stage
            made = Path(write(*bound.args, **bound.kwargs))
        return out / made.relative_to(stage)
    return staged
