"""Who holds a run directory: an advisory lock, one process per directory.

A run (``pr.solve(..., out=D)``, ``--resume D``, ``pr.sweep(..., out=D)``) holds ``D`` from its
start to its end through ``D/.lock``, a small JSON file naming the holder (``pid``, ``host``,
``started``). The file is created with ``O_CREAT | O_EXCL``, so of two processes starting
together exactly one gets it; the other fails at once with :class:`~pinr.errors.RunDirectoryBusy`
naming the holder. The holder removes the file when the run ends, however it ends (success,
error, Ctrl-C). A lock left by a process that died (same host, ``os.kill(pid, 0)`` finds no such
process) is stale: it is taken over with a warning. A lock from another host cannot be checked
and counts as held. Under ``torchrun`` only rank 0 writes the run directory, so only rank 0 calls
:func:`hold` (the callers decide). The lock is advisory: it keeps pinr runs apart, not other
programs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import RunDirectoryBusy

__all__ = ["LOCK_NAME", "hold", "holder"]

log = logging.getLogger(__name__)

#: the lock file's name inside a run directory
LOCK_NAME = ".lock"


def holder(directory: str | os.PathLike) -> dict | None:
    """The record in ``directory``'s lock (``pid``, ``host``, ``started``), ``None`` when unlocked,
    ``{}`` when the file is there but unreadable (being written, or damaged)."""
    return _read(Path(directory) / LOCK_NAME)


def _read(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else {}


def _alive(record: dict) -> bool:
    """Whether the holder in ``record`` may still run: true unless it ran on this host and no
    process of its pid exists."""
    if record.get("host") != socket.gethostname():
        return True
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def _busy(directory: Path, record: dict) -> RunDirectoryBusy:
    if not record:
        return RunDirectoryBusy(f"run directory {directory} is locked ({directory / LOCK_NAME} is unreadable); if no "
                                f"pinr run uses it, remove that file, or choose another --out (out=)")
    return RunDirectoryBusy(f"run directory {directory} is in use by pid {record['pid']} on {record.get('host')} "
                            f"(since {record.get('started')}); choose another --out (out=), or wait for that run to "
                            f"end (if that process is no pinr run, remove {directory / LOCK_NAME})")


def _create(lock: Path) -> bool:
    """Create ``lock`` naming this process, atomically; ``False`` if it exists."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(record))
    return True


def _take_over(lock: Path, stale: dict) -> bool:
    """Move the stale ``lock`` aside and create ours; ``False`` when another process was quicker.
    The stale file is renamed to a name of this process first, and put back if what was renamed is
    no longer the stale record (another process took it over meanwhile)."""
    aside = lock.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return _create(lock)
    if _read(aside) != stale:
        with contextlib.suppress(FileExistsError):
            os.link(aside, lock)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return _create(lock)


@contextlib.contextmanager
def hold(directory: str | os.PathLike) -> Iterator[Path]:
    """Hold run directory ``directory`` (created if missing) for the ``with`` block.

    Raises :class:`~pinr.errors.RunDirectoryBusy` (a ``FileExistsError``) naming the holder when
    a live process holds it, ``FileExistsError`` when ``directory`` is a file. A stale lock is
    taken over with a warning. On leaving the block the lock file is removed, and so is the
    directory if this call created it and the run left nothing in it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"run directory {directory} is a file; choose another --out (out=)")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_NAME
    try:
        for attempt in range(20):
            if _create(lock):
                break
            record = holder(directory)
            if record is None:  # released between our try and our look: try again
                continue
            if not record:  # being written this instant, or damaged: look again shortly
                time.sleep(0.05)
                if attempt < 19:
                    continue
                raise _busy(directory, record)
            if _alive(record):
                raise _busy(directory, record)
            if _take_over(lock, record):
                log.warning("run directory %s: taking over the lock of pid %s on %s (since %s), which is no longer "
                            "running", directory, record["pid"], record.get("host"), record.get("started"))
                break
        else:
            raise _busy(directory, holder(directory) or {})
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    try:
        yield directory
    finally:
        lock.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):  # not empty: the run wrote something
                directory.rmdir()
