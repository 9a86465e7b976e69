"""Where the repository keeps things (its data, results and runs folders, its GitHub name), how files are written
there, and how progress is printed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


DEFAULT_DATA_DIR = REPO / "data"


DEFAULT_RESULTS_DIR = REPO / "results"  # the reference runs that the README and the tests read


DEFAULT_RUNS_DIR = REPO / "runs"  # where a user's own runs go unless told otherwise (not committed)


def repository_slug() -> str:
    """The GitHub "owner/name" that links point at: pyproject.toml's [tool.tiny-mnist] repository."""
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["tiny-mnist"]["repository"]


def say(message: str) -> None:
    """Print at once, also when stdout is a file or a pipe (long runs are watched through logs)."""
    print(message, flush=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
