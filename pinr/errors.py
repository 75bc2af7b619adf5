"""Exceptions raised by pinr. Every message names the culprit and suggests a fix."""

from __future__ import annotations

__all__ = ["PinrError", "ProblemError", "DivergenceError"]


class PinrError(Exception):
    """Base class of pinr's own errors."""


class ProblemError(PinrError, ValueError):
    """A problem statement is invalid (raised when it is constructed)."""


class DivergenceError(PinrError, FloatingPointError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""
