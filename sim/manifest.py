"""Provenance (what a results folder records about how it was made) and atomic writes.

Every file TrustLadder writes goes through :func:`atomic_path` (or one of the
``write_*_atomic`` helpers built on it): the content goes to a temporary file
in the same folder, is flushed to disk and renamed over the target, so a
reader, a crash or a ``kill -9`` sees the old file or the new one, never half
of one. Temporary names start with a dot and contain ``.tmp``
(:func:`is_temp_name`), so leftovers of an interrupted write are recognisable.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .version import MODEL_VERSION

__all__ = [
    "package_versions",
    "git_commit",
    "provenance",
    "now_iso",
    "atomic_path",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_json_atomic",
    "write_frame_atomic",
    "frame_bytes",
    "is_temp_name",
    "sha256_bytes",
    "sha256_file",
]

_PACKAGES = ("trustladder", "numpy", "scipy", "pandas", "pyarrow", "mesa", "matplotlib", "SALib", "dask", "distributed")
_TEMP_RE = re.compile(r"^\..+\.tmp(\.[A-Za-z0-9]+)?$")


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages the results depend on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(path: str | Path | None = None) -> str | None:
    """The git commit of the source tree (with ``-dirty`` if it has changes), or None outside git."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def provenance() -> dict[str, Any]:
    """Versions, git commit, model version, machine, process and command line."""
    return {
        "model_version": MODEL_VERSION,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_path` (a leftover if no write is running)."""
    return bool(_TEMP_RE.match(name))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed over ``path`` when the block succeeds.

    Parameters
    ----------
    path : path
        The file to (re)place. Its folder is created if needed.
    keep_suffix : bool
        End the temporary name with ``path``'s suffix (for writers that pick the format from it).

    The file is flushed to disk before the rename and gets the permissions a
    new file gets (``0o666`` less the umask). If the block raises, the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (NumPy scalars and arrays, paths allowed)."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def frame_bytes(df: Any, fmt: str, **kwargs: Any) -> bytes:
    """A DataFrame encoded as ``fmt`` (``parquet``, zstd-compressed, or ``csv``), without its index."""
    kwargs.setdefault("index", False)
    if fmt == "parquet":
        buf = io.BytesIO()
        kwargs.setdefault("compression", "zstd")
        df.to_parquet(buf, **kwargs)
        return buf.getvalue()
    if fmt == "csv":
        return df.to_csv(**kwargs).encode("utf-8")
    raise ValueError(f"format {fmt!r} is not supported (allowed: parquet, csv)")


def write_frame_atomic(path: str | Path, df: Any, **kwargs: Any) -> None:
    """Write a DataFrame to ``path`` atomically, as Parquet or CSV by the file's suffix."""
    fmt = Path(path).suffix.lstrip(".").lower()
    write_bytes_atomic(path, frame_bytes(df, fmt, **kwargs))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
