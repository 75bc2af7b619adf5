"""Exceptions raised by pinr. Every message names the culprit and suggests a fix.

Floor: foundation (imports nothing from pinr)."""

from __future__ import annotations

__all__ = ["PinrError", "ProblemError", "DivergenceError", "Interrupted", "OutOfMemory", "RunDirectoryBusy"]


class PinrError(Exception):
    """Base class of pinr's own errors."""


class ProblemError(PinrError, ValueError):
    """A problem statement is invalid (raised when it is constructed)."""


class DivergenceError(PinrError, FloatingPointError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""


class Interrupted(PinrError):
    """Training was stopped on request (Ctrl-C) at a step boundary; ``step`` is the last step
    completed and ``checkpoint`` the file written there (``None`` without a run directory)."""

    def __init__(self, message: str, *, step: int, checkpoint=None):
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


class OutOfMemory(PinrError, MemoryError):
    """An allocation failed in training or evaluation; the message names what was allocated, the
    batch, and the option to change. ``suggested`` is the batch to try (half), when one applies."""

    def __init__(self, message: str, *, batch: int | None = None, suggested: int | None = None):
        super().__init__(message)
        self.batch, self.suggested = batch, suggested


class RunDirectoryBusy(PinrError, FileExistsError):
    """Another live process holds the run directory (:mod:`pinr.run`); the message names it
    (pid, host) and the fix: another ``--out``, or waiting for that run to end."""
