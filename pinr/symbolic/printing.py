r"""Printing by the math: ``u_xx + u_yy = f`` as text, :math:`\partial_x^2 u + \partial_y^2 u = f` in LaTeX."""

from __future__ import annotations

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .expressions import DataFunction, FieldFunction

__all__ = ["to_text", "to_latex"]


def _subscript(d: sympy.Derivative) -> str:
    return "".join(str(v) * int(n) for v, n in d.variable_count)


class _Text(StrPrinter):
    def _print_Derivative(self, d):
        if isinstance(d.expr, FieldFunction):
            return f"{d.expr.func.__name__}_{_subscript(d)}"
        return super()._print_Derivative(d)

    def _print_Function(self, f):
        if isinstance(f, (FieldFunction, DataFunction)):
            return f.func.__name__
        return super()._print_Function(f)

    def _print_MatrixBase(self, m):
        return "[" + ", ".join(self._print(e) for e in m) + "]"

    _print_MutableDenseMatrix = _print_ImmutableDenseMatrix = _print_MatrixBase


class _Latex(LatexPrinter):
    def _print_Derivative(self, d):
        if isinstance(d.expr, FieldFunction):
            parts = "".join(rf"\partial_{{{v}}}" if n == 1 else rf"\partial_{{{v}}}^{{{n}}}"
                            for v, n in d.variable_count)
            return f"{parts} {self._print_name(d.expr)}"
        return super()._print_Derivative(d)

    def _print_name(self, f):
        name = f.func.__name__
        base, _, sub = name.partition("_")
        return f"{base}_{{{sub}}}" if sub else base

    def _print_Function(self, f, exp=None):
        if isinstance(f, (FieldFunction, DataFunction)):
            s = self._print_name(f)
            return f"{s}^{{{exp}}}" if exp else s
        return super()._print_Function(f, exp)

    def _print_MatrixBase(self, m):
        return r"\begin{pmatrix}" + r" \\ ".join(self._print(e) for e in m) + r"\end{pmatrix}"

    _print_MutableDenseMatrix = _print_ImmutableDenseMatrix = _print_MatrixBase


def to_text(expr) -> str:
    return _Text().doprint(expr)


def to_latex(expr) -> str:
    return _Latex().doprint(expr)
