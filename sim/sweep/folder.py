"""A results folder's safety: one writer at a time, and ``--force`` deletes only what TrustLadder wrote.

**The lock.** A process that writes a results folder (``trustladder sweep``,
``trustladder run --out``) first takes an exclusive OS-level lock on the file
``.trustladder.lock`` inside it (:class:`FolderLock`, via the ``filelock``
library: ``flock`` on Unix, ``LockFileEx`` on Windows) and keeps it until it
stops. The operating system releases the lock when the process ends in any
way, ``kill -9`` included, so a lock is never stale. Beside it,
``.trustladder.lock.json`` names the holder (pid, host, start time, command)
for the error a second writer gets. The lock file itself is left in place
(deleting a lock file that others may have opened would let two writers in).

**What ``--force`` deletes** (:func:`removable_files`): only a folder whose
``manifest.json`` says it is a TrustLadder result (``kind`` ``sweep`` or
``run``), only the files such a result is made of (:data:`OWN_FILES`,
``runs/chunk-*.parquet``, ``series/chunk-*.npz``, a community sweep's
``partnerships/``, ``organizations/`` and ``memberships/`` chunks, ``state/bands.npz``,
temporary files of interrupted writes), and nothing at all if anything else
is inside (files of yours, analysis outputs, a ``report.html``): then it
refuses and names what is there. It never touches ``.``, an ancestor of the
working directory, the home folder (or one holding it) or a filesystem root,
whatever they hold.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..manifest import is_temp_name, now_iso, write_json_atomic

__all__ = [
    "FolderError",
    "FolderLocked",
    "ForceRefused",
    "FolderLock",
    "removable_files",
    "clear_folder",
    "is_empty",
    "LOCK_NAME",
    "check_unlocked",
    "LOCK_INFO",
    "OWN_FILES",
]

LOCK_NAME = ".trustladder.lock"
LOCK_INFO = ".trustladder.lock.json"
#: Top-level files a sweep or run folder is made of.
OWN_FILES = frozenset({"manifest.json", "points.parquet", "sample.npy", "bands.parquet", "runs.parquet",
                       "series.npz", "partnerships.parquet", "organizations.parquet", "memberships.parquet"})
#: Sub-folders a sweep writes, and the names of the files it writes there.
OWN_DIRS = {
    "runs": re.compile(r"^chunk-\d{6,}\.parquet$"),
    "series": re.compile(r"^chunk-\d{6,}\.npz$"),
    "partnerships": re.compile(r"^chunk-\d{6,}\.parquet$"),  # a community sweep's tables
    "organizations": re.compile(r"^chunk-\d{6,}\.parquet$"),
    "memberships": re.compile(r"^chunk-\d{6,}\.parquet$"),
    "state": re.compile(r"^bands\.npz$"),
}
_LOCK_FILES = frozenset({LOCK_NAME, LOCK_INFO})
_KINDS = ("sweep", "run")


class FolderError(ValueError):
    """A results folder cannot be written as asked (locked, not ours to delete, ...)."""


class FolderLocked(FolderError):
    """Another process is writing the folder."""


class ForceRefused(FolderError):
    """``--force`` would delete something TrustLadder did not write (or a folder it must never touch)."""


def _listing(paths: list[Path], folder: Path, limit: int = 8) -> str:
    names = sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() and not p.is_symlink() else "") for p in paths)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def is_empty(folder: str | Path) -> bool:
    """Whether ``folder`` is missing or holds nothing but a TrustLadder lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return not folder.exists()
    return all(p.name in _LOCK_FILES for p in folder.iterdir())


def _special(folder: Path) -> str | None:
    """Why ``folder`` must never be cleared, or None."""
    p = folder.resolve()
    if p == p.parent:
        return "a filesystem root"
    if os.path.ismount(p):
        return "the root of a mounted filesystem"
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        home = None
    if home is not None and p == home:
        return "your home folder"
    if home is not None and home.is_relative_to(p):
        return f"a folder holding your home folder ({home})"
    cwd = Path.cwd().resolve()
    if p == cwd:
        return "the working directory"
    if cwd.is_relative_to(p):
        return f"an ancestor of the working directory ({cwd})"
    return None


def _manifest_kind(folder: Path) -> tuple[str | None, str]:
    """The ``kind`` recorded in ``folder/manifest.json`` and, if none, why."""
    path = folder / "manifest.json"
    if not path.exists():
        return None, "it has no manifest.json"
    try:
        with open(path, encoding="utf-8") as fh:
            kind = json.load(fh).get("kind")
    except (OSError, ValueError, AttributeError) as exc:
        return None, f"its manifest.json is unreadable ({type(exc).__name__})"
    if kind not in _KINDS:
        return None, f"its manifest.json does not say it is a TrustLadder result (kind {kind!r})"
    return kind, ""


def removable_files(folder: str | Path, option: str = "--force") -> list[Path]:
    """The files ``option`` may delete to start ``folder`` over; raise :class:`ForceRefused` otherwise.

    Returns an empty list for a missing or empty folder. See the module
    docstring for the rules.
    """
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ForceRefused(f"{option}: {folder} is not a folder{' (a symbolic link)' if folder.is_symlink() else ''}"
                           ": refusing to delete it")
    if is_empty(folder):
        return []
    why = _special(folder)
    if why:
        raise ForceRefused(f"{option}: refusing to empty {folder}: it is {why}. Give --out a folder of its own "
                           "(e.g. results/<name>)")
    entries = list(folder.iterdir())
    kind, reason = _manifest_kind(folder)
    if kind is None:
        raise ForceRefused(f"{option}: refusing to delete {folder}: {reason}, so it is not provably a TrustLadder "
                           f"results folder. It holds {_listing(entries, folder)}. Choose another --out, or empty "
                           "it yourself if you are sure")
    ours: list[Path] = []
    foreign: list[Path] = []
    for p in entries:
        if p.is_symlink():
            foreign.append(p)
        elif p.is_file() and (p.name in OWN_FILES or p.name in _LOCK_FILES or is_temp_name(p.name)):
            if p.name not in _LOCK_FILES:
                ours.append(p)
        elif p.is_dir() and p.name in OWN_DIRS:
            for q in p.iterdir():
                if q.is_file() and not q.is_symlink() and (OWN_DIRS[p.name].match(q.name) or is_temp_name(q.name)):
                    ours.append(q)
                else:
                    foreign.append(q)
        else:
            foreign.append(p)
    if foreign:
        raise ForceRefused(f"{option}: refusing to delete {folder}: it is a TrustLadder {kind} folder, but it also "
                           f"holds what TrustLadder did not write there: {_listing(foreign, folder)}. Move those "
                           "out (analysis/, figures/, csv/ and report.html made from the old results count too) "
                           "and try again, or choose another --out")
    return ours


def clear_folder(folder: str | Path, files: list[Path]) -> None:
    """Delete ``files`` (from :func:`removable_files`) and the sub-folders they leave empty."""
    folder = Path(folder)
    for p in files:
        p.unlink(missing_ok=True)
    for name in OWN_DIRS:
        d = folder / name
        if d.is_dir() and not d.is_symlink() and not any(d.iterdir()):
            d.rmdir()


def _holder(folder: Path) -> str:
    try:
        info = json.loads((folder / LOCK_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "another process (it has not recorded its details yet)"
    where = info.get("host", "?")
    here = " (this machine)" if where == socket.gethostname() else " (another machine sharing the folder)"
    return (f"pid {info.get('pid', '?')} on {where}{here}, since {info.get('started', '?')}"
            f" ({info.get('command', '?')})")


def check_unlocked(folder: str | Path) -> None:
    """Raise :class:`FolderLocked` if another process holds ``folder``'s lock (read-only: creates nothing).

    Called before anything else is judged, so that a writer's half-made folder
    (a lock and a temporary manifest, no manifest yet) is reported as being
    written rather than as "not ours to delete".
    """
    folder = Path(folder)
    if not (folder / LOCK_NAME).is_file():
        return
    lock = FileLock(str(folder / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise _locked(folder) from None
    lock.release()


def _locked(folder: Path) -> FolderLocked:
    return FolderLocked(f"{folder} is being written by {_holder(folder)}: wait for it to finish, or stop that "
                        "process (a stopped process releases the lock at once), then try again; or choose "
                        "another --out")


class FolderLock:
    """An exclusive lock on a results folder for as long as it is written (a context manager).

    Parameters
    ----------
    folder : path
        The results folder (created if needed: the lock lives inside it).

    Raises
    ------
    FolderLocked
        On entry, if another process (or another lock in this one) holds it.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock: Any = None

    def acquire(self) -> FolderLock:
        if self.folder.exists() and not self.folder.is_dir():
            raise FolderError(f"{self.folder} exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.folder / LOCK_NAME), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise _locked(self.folder) from None
        self._lock = lock
        try:
            write_json_atomic(self.folder / LOCK_INFO, {"pid": os.getpid(), "host": socket.gethostname(),
                                                        "started": now_iso(), "command": " ".join(sys.argv)})
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        try:
            (self.folder / LOCK_INFO).unlink(missing_ok=True)
        finally:
            self._lock.release()
            self._lock = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
