"""The one owner of a run directory: its checks, its lock, its record, resume, its outputs.

A run directory (``pr.solve(..., out=D)``, ``--resume D``, a collection's, each model's of a
sweep) is handled here and nowhere else; floor: above solvers, cases and problems, below the
façade (:mod:`pinr.api`). :class:`RunDirectory` is its lifecycle:

1. **checks** (:meth:`RunDirectory.check_new`): ``D`` is no file, and is new or empty — a
   directory holding only the record of a start that failed (and our lock) is reused;
2. **the lock** (:func:`hold`): one process per directory, see below;
3. **resume** (:func:`read_record`, :func:`merge_recorded`): the recorded options hold, one
   given again must agree (``steps`` aside);
4. **the record** (``config.json``, :func:`record`): written only once the trainer's state has
   started — a resume loads and checks its checkpoint first, so a resume that fails leaves the
   record describing the files beside it; a resumed run keeps where its options came from;
5. **outputs** (:meth:`RunDirectory.finish`): metrics, fields and plots, each file atomic; under
   ``torchrun`` rank 0 alone writes the record and the outputs, and every rank waits at the
   barrier until the directory is complete.

The lock: a run holds ``D`` from its start to its end through ``D/.lock``, a small JSON file
naming the holder (``pid``, ``host``, ``started``). The file is created with
``O_CREAT | O_EXCL``, so of two processes starting together exactly one gets it; the other fails
at once with :class:`~pinr.errors.RunDirectoryBusy` naming the holder. The holder removes the file
when the run ends, however it ends (success, error, Ctrl-C). A lock left by a process that died
(same host, ``os.kill(pid, 0)`` finds no such process) is stale: it is taken over with a warning.
A lock from another host cannot be checked and counts as held. Under ``torchrun`` only rank 0
writes the run directory, so only rank 0 holds it (:func:`held`). The lock is advisory: it keeps
pinr runs apart, not other programs.
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

__all__ = ["LOCK_NAME", "RECORD_NAME", "RUN_ONLY", "RunDirectory", "hold", "held", "holder", "read_record",
           "recorded_options", "merge_recorded", "record"]

log = logging.getLogger(__name__)

#: the lock file's name inside a run directory
LOCK_NAME = ".lock"
#: the run's record inside a run directory
RECORD_NAME = "config.json"


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


@contextlib.contextmanager
def held(directory: str | os.PathLike | None) -> Iterator[Path | None]:
    """:func:`hold` ``directory`` on rank 0 (the process that writes it); other ranks, and a run
    without a directory (``None``), hold nothing."""
    from .training.strategy import is_main_process

    if directory is None or not is_main_process():
        yield None
        return
    with hold(directory) as path:
        yield path


# ---------------------------------------------------------------------------------- the record
#: options a resumed run may change: where and how it is shown, not what it computes
RUN_ONLY = frozenset({"out", "resume", "progress", "device", "log_every", "validate_every", "checkpoint_every",
                      "tensorboard", "memory_budget"})


def read_record(run: str | os.PathLike) -> dict:
    """The ``config.json`` of run directory ``run`` (``FileNotFoundError`` naming it if absent);
    ``ValueError`` naming the part when its shape is not a record's: an object whose ``problem``,
    if present, is an object with a ``name`` or ``file`` string and ``params`` an object."""
    from .io import read_json

    path = Path(run) / RECORD_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no {RECORD_NAME} there, so it is not a pinr run directory")
    try:
        record = read_json(path)
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the run's record is damaged") from None
    damaged = "the run's record is damaged: restore it or start a new run"
    if not isinstance(record, dict):
        raise ValueError(f"{path} holds a JSON {type(record).__name__}, not a run's record (an object such as "
                         f'{{"problem": {{"name": "image", "params": {{}}}}, ...}}); {damaged}')
    problem = record.get("problem", {})
    if not isinstance(problem, dict):
        raise ValueError(f'{path}: "problem" is {problem!r:.60}, not an object such as '
                         f'{{"name": "image", "params": {{}}}}; {damaged}')
    for key in ("name", "file"):
        if not isinstance(problem.get(key, ""), str):
            raise ValueError(f'{path}: "problem"."{key}" is {problem[key]!r:.60}, not a string; {damaged}')
    if not isinstance(problem.get("params") or {}, dict):
        raise ValueError(f'{path}: "problem"."params" is {problem["params"]!r:.60}, not an object of '
                         f"parameter -> value; {damaged}")
    if not isinstance(record.get("solver", ""), str):
        raise ValueError(f'{path}: "solver" is {record["solver"]!r:.60}, not a string such as "pinn"; {damaged}')
    return record


def recorded_options(record: dict) -> dict:
    """The training options a run's record states (what it computed, without ``RUN_ONLY``)."""
    from .training.config import option_names

    return {k: record[k] for k in option_names() if k in record and k not in RUN_ONLY}


def merge_recorded(saved: dict, options: dict, run: Path) -> dict:
    """The options of a resumed run: ``saved`` (the run's record) with ``options`` given again
    on top; one that differs from the record (``steps`` and ``RUN_ONLY`` ones aside) raises
    ``ValueError`` naming it."""
    for k, v in options.items():
        if k in RUN_ONLY or v is None or k not in saved:
            continue
        if k != "steps" and json.loads(json.dumps(v, default=str)) != saved[k]:  # steps may change the plan
            flag = {"backbone_options": "backbone options"}.get(k, k)
            raise ValueError(f"resume: {flag}={v!r} conflicts with the run's record ({saved[k]!r} in "
                             f"{run}/{RECORD_NAME});"
                             " drop it to continue the run, or start a new run with another --out")
    return {**saved, **{k: v for k, v in options.items() if v is not None}}


def subject(case, *, solver: str = "pinn") -> dict:
    """What a run of ``case`` solved, as its record states it: the problem and its source (a
    catalogue name and parameters, or a file), the statement, the solver."""
    return {"problem": {"name": case.problem.name, **dict(case.source)}, "statement": str(case.problem),
            "solver": solver}


def record(trainer, solved: dict, *, extra: dict | None = None, chosen_by: dict | None = None) -> dict:
    """Everything needed to rerun: versions, what was ``solved`` (:func:`subject`), every option
    ``trainer`` resolved (then ``extra``), its device and ranks, and where the options you did not
    give came from (``chosen_by``: a resumed run keeps its first record's)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:  # the installed distribution's version: the façade (pinr.__version__) is a floor above
        pinr_version = version("pinr")
    except PackageNotFoundError:  # a source tree on the path, not installed
        pinr_version = "unknown"
    flat = {k: (str(v) if isinstance(v, Path) else v) for k, v in trainer.config.flat().items()
            if isinstance(v, (int, float, str, bool, type(None), Path, dict, list, tuple))}
    return {
        "pinr": pinr_version, "torch": torch.__version__, "python": platform.python_version(),
        **solved, **flat, **(extra or {}), "device": str(trainer.device), "world_size": trainer.strategy.world_size,
        "chosen_by": chosen_by if chosen_by is not None else dict(trainer.resolved.sources),
    }


# ------------------------------------------------------------------------------- the lifecycle
class RunDirectory:
    """The run directory ``out`` (default: the ``resume`` one; ``None`` for a run that writes
    none, when every method below writes nothing) of one run, from its checks to its outputs.

    With ``resume`` its record is read (and its shape checked) at once, as :attr:`before`."""

    def __init__(self, out: str | os.PathLike | None = None, *, resume: str | os.PathLike | None = None):
        self.resume = Path(resume) if resume is not None else None
        self.path = Path(out) if out is not None else self.resume
        #: the record of the run a resume continues (``None`` for a new run)
        self.before = read_record(self.resume) if self.resume is not None else None

    def check_new(self, *, what: str = "run directory", resumable: bool = True) -> None:
        """Refuse a directory that is a file, or (for a new run) one that holds anything but a
        record of a start that failed and our lock (``FileExistsError`` naming it)."""
        out = self.path
        if out is None or not out.exists():
            return
        if not out.is_dir():
            raise FileExistsError(f"{what} {out} is a file; choose another --out (out=)")
        if self.resume is None and {p.name for p in out.iterdir()} - {RECORD_NAME, LOCK_NAME}:
            raise FileExistsError(f"{what} {out} exists and is not empty; choose another --out (out=)" +
                                  (" or continue that run with --resume (resume=)" if resumable else ""))

    def case_options(self, case, options: dict) -> dict:
        """``options`` completed from the record of the run resumed: the record's problem and
        options hold; an option given again must equal the recorded one (``ValueError`` naming
        it otherwise), except ``steps``, which re-plans the rest of the run. A new run's
        ``options`` are returned as they are."""
        if self.before is None:
            return options
        record, run = self.before, self.resume
        source = dict(case.source) or None
        if source is not None and "file" in source and record.get("problem") == {"name": case.problem.name, **source} \
                and record.get("statement") != str(case.problem):
            raise ValueError(f"resume: {source['file']} states another problem than the run in {run} solved (the "
                             "file changed since); restore it, or start a new run with another --out")
        if (record.get("problem", {}).get("params") is not None and source is not None
                and {"name": case.problem.name, **source} != record["problem"]) or \
                (source is None and record.get("statement") != str(case.problem)):
            raise ValueError(f"resume: {run} is a run of {record.get('problem')}, not of this problem; give that "
                             "problem (or none on the command line) or start a new run")
        return merge_recorded(recorded_options(record), options, run)

    def collection_options(self, collection, options: dict) -> dict:
        """:meth:`case_options` for a :class:`~pinr.Collection`: the record must be a
        conditioned run of it; its code options are recorded options too."""
        from .collection import CodeConfig

        if self.before is None:
            return options
        record, run = self.before, self.resume
        if record.get("solver") != "conditioned" or record.get("problem") != {"name": collection.name,
                                                                                **dict(collection.source)}:
            raise ValueError(f"resume: {run} is a run of {record.get('problem')} ({record.get('solver', 'pinn')} "
                             f"solver), not of the collection {collection.name!r}; start a new run")
        saved = {**recorded_options(record), **CodeConfig(**record.get("codes", {})).options()}
        return merge_recorded(saved, options, run)

    def write_record(self, trainer, solved: dict, *, extra: dict | None = None) -> None:
        """Write the record (:func:`record`) of ``trainer``'s run, on rank 0; a resumed run keeps
        where its options came from."""
        if self.path is None or not trainer.strategy.is_main:
            return
        from .io import write_json

        chosen = self.before.get("chosen_by") if self.before is not None else None
        write_json(self.path / RECORD_NAME, record(trainer, solved, extra=extra, chosen_by=chosen))

    def start(self, trainer, solved: dict, *, extra: dict | None = None):
        """The state ``trainer`` starts from (a resume loads and checks its checkpoint here), and
        only then the record: a resume that fails leaves the record describing the run the
        directory's other files describe."""
        state = trainer.start()
        self.write_record(trainer, solved, extra=extra)
        return state

    def finish(self, write, *, main: bool = True, strategy=None):
        """``write(path)`` the run's outputs on rank 0 (``main``), every file atomic, then wait at
        ``strategy``'s barrier: the other ranks return once the directory is complete. Returns
        what ``write`` returns (``None`` where nothing was written)."""
        written = None
        if self.path is not None and main:
            from .memory import memory_guard

            with memory_guard(f"the outputs of the run in {self.path}"):  # files are atomic: none is left half-written
                written = write(self.path)
        if strategy is not None:
            strategy.barrier()
        return written
