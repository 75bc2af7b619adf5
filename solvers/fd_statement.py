r"""A statement read for the nonlinear references (:mod:`~pinr.solvers.fd_ivp`,
:mod:`~pinr.solvers.fd_lines`): each condition's residuals as sympy expressions in which every
parameter has its value and every field value or derivative :math:`\partial^\alpha u_c` is a real
symbol keyed by ``(c, α)``, so that the equations can be solved for their highest time derivatives
and lambdified with numpy.

Parameters take the problem's values (a trainable one its current, starting value: the caller
decides whether that is a reference worth having). A complex statement over real channels
(``u = u_re + I u_im``) is split into real and imaginary residuals, as the compiler does.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from pinr.compiler.compile import atom_of
from pinr.symbolic.expressions import DataFunction, FieldFunction, Parameter, normal_symbol

from .fd_lowering import _atom_name

__all__ = ["AtomSymbol", "Atoms", "read_residuals", "atom_name", "solve_for"]


class AtomSymbol(sympy.Symbol):
    """A field value or derivative in a read statement (its own type: never equal to a coordinate or
    parameter of the same name)."""

    def __new__(cls, name: str):
        return super().__new__(cls, name, real=True)


@dataclass
class Atoms:
    """The symbols standing for field values and derivatives: ``key (component, orders) → symbol``."""

    problem: object
    symbols: dict

    def __call__(self, component: int, orders: tuple[int, ...]) -> sympy.Symbol:
        key = (component, tuple(orders))
        if key not in self.symbols:
            self.symbols[key] = AtomSymbol(atom_name(self.problem, *key))
        return self.symbols[key]

    def keys_in(self, expr) -> list[tuple[int, tuple[int, ...]]]:
        """The keys of the symbols that occur in ``expr``."""
        free = expr.free_symbols
        return [k for k, s in self.symbols.items() if s in free]


def atom_name(problem, component: int, orders: tuple[int, ...]) -> str:
    """``u``, ``u_t``, ``v_xx``: a field and its derivatives named by the math."""
    return _atom_name(problem.fields[component], [c.name for c in problem.domain.coords], orders)


def read_residuals(problem, condition, atoms: Atoms, *, normal: dict | None = None) -> list:
    """The residuals of ``condition`` with parameter values and derivative symbols from ``atoms``
    (exact constants stay exact, for :func:`sympy.solve`; numpy's printer takes them); ``normal``
    (coordinate → component) replaces the outward normal of ``dn``."""
    coords = problem.domain.coords
    out = []
    for r in condition.eq.residuals:
        r = sympy.sympify(r)
        if r.atoms(DataFunction):
            raise NotImplementedError(
                f"the reference of '{problem.name}' reads data (pr.Data) in condition '{condition.name}'; the "
                "ODE and method-of-lines references take formulas only: state the forcing as a formula")
        params = {p: problem.params.get(p.name, p.value) for p in r.atoms(Parameter)}
        r = r.xreplace(params)
        if normal is not None:
            r = r.xreplace({normal_symbol(c): normal.get(c, 0) for c in coords})
        def symbol(app):  # the compiler's reading of a field or derivative, as a read-statement symbol
            a = atom_of(app, problem.fields, coords)
            return atoms(a.component, a.orders)

        r = r.xreplace({d: symbol(d) for d in r.atoms(sympy.Derivative) if isinstance(d.expr, FieldFunction)})
        r = r.xreplace({a: symbol(a) for a in r.atoms(AppliedUndef) if isinstance(a, FieldFunction)})
        out.extend(sympy.expand_complex(r).as_real_imag() if r.has(sympy.I) else [r])
    return [r for r in out if r != 0]


def solve_for(residuals: list, unknowns: list, what: str) -> list:
    r"""The unique solution of ``residuals = 0`` for the symbols ``unknowns``, as expressions of the
    other symbols. A system linear in them with a numeric matrix is solved by that matrix's
    inverse (no symbolic elimination); otherwise :func:`sympy.solve`, which must find exactly one
    solution. ``NotImplementedError`` names ``what`` when the system is singular (an algebraic
    constraint) or has no or several solutions."""
    jac = sympy.Matrix([[sympy.diff(r, s) for s in unknowns] for r in residuals])
    names = ", ".join(str(s) for s in unknowns)
    if len(residuals) == len(unknowns) and all(e.is_Number for e in jac):
        if jac.rank() < len(unknowns):
            raise NotImplementedError(
                f"{what} cannot be solved for {names}: the equations are dependent in them (an algebraic "
                "constraint, a differential-algebraic system), which has no reference")
        rest = sympy.Matrix([r.xreplace(dict.fromkeys(unknowns, 0)) for r in residuals])
        inverse = jac.inv()
        return list(-inverse * rest)
    found = sympy.solve(residuals, unknowns, dict=True)
    found = [s for s in found if all(k in s for k in unknowns)]
    if len(found) != 1:
        raise NotImplementedError(
            f"{what} cannot be solved uniquely for {names} ({len(found)} solutions found by sympy); state the "
            "equations so that they determine them, e.g. dt(u) = F(u)")
    return [found[0][s] for s in unknowns]
