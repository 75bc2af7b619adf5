"""Catalogues: named entries registered by a decorator, listed, looked up and built.

Floor: the bottom (beside :mod:`pinr.errors` and :mod:`pinr.io`); it imports nothing from pinr,
so every floor above may keep a catalogue — the problems (:mod:`pinr.problems`), the PINN suite's
cases and peers and the step benchmark's cases (:mod:`pinr.bench`).

An entry is any object, usually a builder function; :meth:`Catalogue.params` reads a builder's
parameters from its signature and :meth:`Catalogue.build` calls it with checked parameters.
Entries keep the order they were registered in; an unknown name raises ``ValueError`` listing
the valid ones, sorted.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Catalogue"]

T = TypeVar("T")


class Catalogue(Generic[T]):
    """Entries of one ``kind`` by name (``kind`` is how messages name an entry: ``"problem"``).

    ``load`` (optional) is called once, before the first lookup or listing, to import the modules
    whose decorators fill the catalogue.
    """

    def __init__(self, kind: str, *, load: Callable[[], None] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._load = load
        self._loading = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name``; a name taken by another entry raises."""

        def deco(entry: T) -> T:
            self.add(name, entry)
            return entry

        return deco

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name`` (again registering the same entry is a no-op)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def _loaded(self) -> dict[str, T]:
        if self._load is not None and not self._loading:  # a lookup while loading sees what is there so far
            self._loading = True
            try:
                self._load()
            finally:
                self._loading = False
            self._load = None  # after success only: a failed import is retried by the next lookup
        return self._entries

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._loaded())

    def unknown(self, names) -> list[str]:
        """Those of ``names`` that are not registered, in their order."""
        entries = self._loaded()
        return [n for n in names if n not in entries]

    def __getitem__(self, name: str) -> T:
        entries = self._loaded()
        if name not in entries:
            raise ValueError(f"unknown {self.kind} {name!r}; available {self.kind}s: {', '.join(self.names())}")
        return entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        """The names in registration order."""
        return iter(list(self._loaded()))

    def __len__(self) -> int:
        return len(self._loaded())

    def params(self, name: str) -> dict[str, object]:
        """Parameters of builder ``name`` with their defaults (``inspect.Parameter.empty`` when none)."""
        return {k: p.default for k, p in inspect.signature(self[name]).parameters.items()}

    def build(self, name: str, **params):
        """Call builder ``name`` with ``params``; parameters it does not take raise ``TypeError``
        listing the ones it does."""
        valid = self.params(name)
        bad = sorted(set(params) - set(valid))
        if bad:
            raise TypeError(
                f"{self.kind} {name!r} has no parameter {', '.join(map(repr, bad))}; its parameters are "
                + ", ".join(f"{k}={v!r}" for k, v in valid.items())
            )
        return self[name](**params)

    def __repr__(self) -> str:
        return f"Catalogue({self.kind!r}, {list(self._entries)})"
