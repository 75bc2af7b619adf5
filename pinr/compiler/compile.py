r"""Compile a :class:`~pinr.Problem` into loss terms.

Per condition, the compiler collects the *derivative atoms* of the unknowns (``u``, ``u_x``,
``u_xy``, ...), recognises linear combinations of second derivatives whose coefficients do
not involve the unknowns (``u_xx + u_yy``, ``u_tt - c^2 Δu``, ``A(x) u_xx + B(x) u_yy``) as
one *combo* each — a derivative engine may compute a combo in one pass — and lambdifies
what remains into a torch function of (coordinates, normals, data, atoms, combos).

Parameters are substituted by value and exact constants are evaluated numerically at any depth
before lambdification (:func:`fold_constants`: ``sympy.lambdify(..., "torch")`` would hand
``torch.pow`` two Python numbers for ``pi**2``);
trainable parameters stay symbols and become arguments of the compiled function, so that their
values (tensors with gradients) flow into the residuals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy
import torch
from sympy.core.function import AppliedUndef

from ..symbolic.expressions import DataFunction, FieldFunction, Parameter, normal_symbol
from ..symbolic.known import derivative_app

__all__ = ["Atom", "Combo", "atom_of", "CompiledExpression", "CompiledTerm", "CompiledObservation", "CompiledProblem",
           "fold_constants", "compile_problem", "compile_expressions"]


@dataclass(frozen=True)
class Atom:
    """Derivative of output channel ``component``: ``orders[i]`` times along coordinate ``i``."""

    component: int
    orders: tuple[int, ...]

    @property
    def order(self) -> int:
        return sum(self.orders)


@dataclass(frozen=True)
class Combo:
    r"""``Σ_k c_k(x) ∂^{orders_k} u_component`` over second derivatives; ``coefficients`` index
    the expression's coefficient functions."""

    component: int
    orders: tuple[tuple[int, ...], ...]
    coefficients: tuple[int, ...]


def _broadcast(args):
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    if like is None:
        return [torch.as_tensor(a) for a in args]
    return [a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=like.dtype, device=like.device)
            for a in args]


def _max(*args):
    out, *rest = _broadcast(args)
    for a in rest:
        out = torch.maximum(out, a)
    return out


def _min(*args):
    out, *rest = _broadcast(args)
    for a in rest:
        out = torch.minimum(out, a)
    return out


def _heaviside(x, h0=0.5):
    (x,) = _broadcast([x])
    return torch.heaviside(x, torch.as_tensor(0.5 if h0 is None else h0, dtype=x.dtype, device=x.device))


# functions sympy's torch printer leaves to Python builtins, which reject tensors
_TORCH_EXTRAS = {"Max": _max, "Min": _min, "max": _max, "min": _min, "amax": _max, "amin": _min,
                 "Heaviside": _heaviside, "heaviside": _heaviside, "sign": torch.sign, "Abs": torch.abs,
                 "abs": torch.abs}
_MODULES = [_TORCH_EXTRAS, "torch"]


def fold_constants(expr):
    """``expr`` with every subexpression free of symbols that is not a rational number (``pi**2``,
    ``sqrt(2)``, ``E``, ``sqrt(100 + 4*pi**2)`` inside ``exp(...)``) replaced by its float, at any
    depth; integers and rationals stay as they are (exponents, Python arithmetic). ``sympy.N`` alone
    leaves constants inside a function's argument untouched, and ``lambdify`` would then hand
    ``torch.pow`` two Python numbers."""
    if not isinstance(expr, sympy.Basic):
        return expr
    if expr.is_number:
        return expr if expr.is_Rational else expr.evalf()  # 1/3 prints as Python arithmetic; pi**2 would not
    if not expr.args:
        return expr
    if isinstance(expr, (sympy.Tuple, sympy.Derivative)):
        return expr  # a derivative's variables and orders are structure, not arithmetic
    return expr.func(*(fold_constants(a) for a in expr.args))


def _numeric(expr, params: Mapping[str, float], keep: frozenset = frozenset()):
    subs = {p: params.get(p.name, p.value) for p in expr.atoms(Parameter) if p.name not in keep}
    return fold_constants(sympy.N(expr.xreplace(subs)) if subs else sympy.N(expr))


def _hard_form(expr, hard: Mapping):
    """``expr`` with every field application ``u(x)`` named in ``hard`` replaced by ``G + φ u(x)``."""
    swap = {a: hard[a.func.__name__][0] + hard[a.func.__name__][1] * a
            for a in expr.atoms(FieldFunction) if a.func.__name__ in hard}
    return expr.xreplace(swap).doit() if swap else expr


def _real_imag(e) -> tuple:
    """The real and imaginary parts of ``e`` (its symbols real). Real functions of real arguments
    (``exp(-5000 (x + 0.35)^2)``) are kept whole while the rest is expanded: expanded, that Gaussian
    became ``1.6e-263 * exp(-5000 x^2 - 3500 x)``, 0 times infinity in float32."""
    whole = {f: sympy.Dummy(f"r{i}", real=True) for i, f in enumerate(
        a for a in e.atoms(sympy.Function) if not a.has(sympy.I) and all(s.is_real for s in a.free_symbols))}
    parts = sympy.expand_complex(e.xreplace(whole)).as_real_imag()
    back = {v: k for k, v in whole.items()}
    return tuple(p.xreplace(back) for p in parts)


def atom_of(app_or_derivative, fields: Sequence[str], coords) -> Atom:
    """The :class:`Atom` a field application ``u(x, t)`` or its derivative stands for."""
    if isinstance(app_or_derivative, sympy.Derivative):
        f = app_or_derivative.expr
        counts = dict.fromkeys(coords, 0)
        for v, n in app_or_derivative.variable_count:
            counts[v] += int(n)
        orders = tuple(counts[c] for c in coords)
    else:
        f = app_or_derivative
        orders = (0,) * len(coords)
    return Atom(fields.index(f.func.__name__), orders)


@dataclass
class CompiledExpression:
    """Torch evaluation of residual-like expressions given atom values.

    ``fn(coords (d×(N,)), normals, data, parameters, atoms, combos)`` returns a list of ``(N,)``
    tensors; ``coef_fn(coords, normals, data)`` returns the combos' coefficient values;
    ``parameters`` names the trainable parameters the expressions read (values passed at call time).
    """

    exprs: tuple
    coords: tuple
    atoms: tuple[Atom, ...]
    combos: tuple[Combo, ...]
    data: tuple[DataFunction, ...]
    uses_normals: bool
    fn: object = field(repr=False)
    coef_fn: object = field(repr=False)
    n_coefficients: int = 0
    symbolic: tuple = field(default=(), repr=False)
    atom_symbols: tuple = field(default=(), repr=False)
    combo_symbols: tuple = field(default=(), repr=False)
    coefficient_exprs: tuple = field(default=(), repr=False)
    parameters: tuple[str, ...] = ()
    arguments: tuple = field(default=(), repr=False)  #: the symbols ``fn`` takes, in order
    _parts_fn: object = field(default=None, repr=False, compare=False)

    @property
    def max_order(self) -> int:
        orders = [a.order for a in self.atoms] + [2 for _ in self.combos]
        return max(orders, default=0)

    def data_points(self, app, points: torch.Tensor) -> torch.Tensor:
        """The columns of ``points`` that the data function ``app`` (one of :attr:`data`) is a function
        of: ``D(x, y)`` in an ``(x, y, t)`` expression reads ``x`` and ``y``."""
        return points[:, [self.coords.index(a) for a in app.args]]

    def inputs(self, points: torch.Tensor, normals: torch.Tensor | None, data: Mapping | None = None):
        """Coordinate columns, normal columns and data at ``points`` ``(N, d)``: the values the
        samples carry for a data source (``data[source]``, ``(N,)`` or ``(N, C)``), else the
        source interpolated at the points."""
        cols = [points[:, i] for i in range(points.shape[1])]
        if self.uses_normals:
            if normals is None:
                raise ValueError("this expression uses normals (dn) but the points come without normals")
            ncols = [normals[:, i] for i in range(normals.shape[1])]
        else:
            ncols = [points[:, 0] * 0.0] * len(self.coords)
        dvals = []
        for app in self.data:
            carried = data.get(app.func.source) if data else None
            if carried is not None:
                dvals.append(carried if carried.dim() == 1 else carried[:, app.func.channel])
                continue
            dvals.append(app.func.source.interpolate(self.data_points(app, points), app.func.channel))
        return cols, ncols, dvals

    def coefficients(self, points, normals, data: Mapping | None = None) -> list:
        if not self.combos:
            return []
        cols, ncols, dvals = self.inputs(points, normals, data)
        n = points.shape[0]
        return [_as_column(c, n, points) for c in self.coef_fn(*cols, *ncols, *dvals)]

    def __call__(self, points, normals, atom_values: Sequence[torch.Tensor], combo_values: Sequence[torch.Tensor] = (),
                 *, params: Mapping[str, torch.Tensor] | None = None, data: Mapping | None = None):
        """Residuals ``(n_exprs, N)``; ``params`` gives the values of :attr:`parameters`."""
        out = self.fn(*self._arguments(points, normals, params, data), *atom_values, *combo_values)
        n = points.shape[0]
        return torch.stack([_as_column(r, n, points) for r in out])

    def _arguments(self, points, normals, params, data) -> list:
        """The coordinate, normal, data and trainable-parameter values ``fn`` takes before the atoms."""
        cols, ncols, dvals = self.inputs(points, normals, data)
        missing = [k for k in self.parameters if not params or k not in params]
        if missing:
            raise ValueError(f"values of the trainable parameters {missing} are needed to evaluate {self.exprs}")
        return [*cols, *ncols, *dvals, *(params[k] for k in self.parameters)]

    def part_sizes(self, points, normals, atom_values: Sequence[torch.Tensor],
                   combo_values: Sequence[torch.Tensor] = (), *, params: Mapping[str, torch.Tensor] | None = None,
                   data: Mapping | None = None, combo_squares: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        r"""The size of what each residual balances, ``(n_exprs, N)``: at every point the root sum of
        squares of its additive parts, :math:`\sqrt{\sum_k a_k^2}` for :math:`r = \sum_k a_k` (for
        :math:`-\Delta u - f`: :math:`\sqrt{(\Delta u)^2 + f^2}`) — the scale against which a residual
        is small, also where the data are zero (:math:`u_t - \epsilon u_{xx} - u + u^3`).
        ``combo_squares[j]``, when given, is :math:`\sum_m (a_m \partial^{\alpha_m} u)^2` for combo ``j``:
        a part that is a combo (:math:`\pm\Delta u`) counts as its members."""
        if self._parts_fn is None:
            parts = [sympy.Add.make_args(e) for e in self.symbolic]
            owner = [i for i, p in enumerate(parts) for _ in p]
            combo = [next((j for j, s in enumerate(self.combo_symbols) if a in (s, -s)), None)
                     for p in parts for a in p]
            self._parts_fn = (sympy.lambdify(self.arguments, [a for p in parts for a in p], modules=_MODULES, cse=True),
                              owner, combo)
        fn, owner, combo = self._parts_fn
        out = fn(*self._arguments(points, normals, params, data), *atom_values, *combo_values)
        n = points.shape[0]
        sizes = torch.zeros(len(self.symbolic), n, dtype=points.dtype, device=points.device)
        for i, a, j in zip(owner, out, combo):
            own = combo_squares[j] if j is not None and combo_squares else _as_column(a, n, points).detach().square()
            sizes[i] += own
        return sizes.sqrt()


def _as_column(value, n, like):
    if isinstance(value, torch.Tensor):
        return value.expand(n) if value.dim() == 0 or value.shape[0] != n else value
    return torch.full((n,), float(value), dtype=like.dtype, device=like.device)


def compile_expressions(exprs: Sequence, *, fields: Sequence[str], coords: Sequence, params: Mapping[str, float],
                        trainable: Sequence[str] = (), collapse: bool = True,
                        hard: Mapping | None = None) -> CompiledExpression:
    """Compile scalar sympy expressions of the fields, their derivatives, coordinates and data;
    parameters named in ``trainable`` stay arguments, the others take their values from ``params``.
    ``hard`` (field name → ``(G, φ)``, :mod:`pinr.symbolic.hard`) writes each such field ``u`` as
    ``G + φ·u`` first, ``u`` then being the network's output, and expands the derivatives."""
    coords = tuple(coords)
    keep = frozenset(trainable)
    exprs = [sympy.sympify(e) for e in exprs]
    if hard:
        exprs = [_hard_form(e, hard) for e in exprs]
    exprs = [_numeric(e, params, keep) for e in exprs]
    kept: dict[str, sympy.Symbol] = {}
    for e in exprs:
        for p in e.atoms(Parameter):
            kept.setdefault(p.name, p)
    atoms: dict[Atom, sympy.Symbol] = {}

    def atom_symbol(a: Atom) -> sympy.Symbol:
        if a not in atoms:
            atoms[a] = sympy.Dummy(f"a{len(atoms)}", real=True)
        return atoms[a]

    replaced = []
    data_apps: dict = {}
    for e in exprs:
        mapping = {}
        for d in e.atoms(sympy.Derivative):
            if isinstance(d.expr, FieldFunction):
                mapping[d] = atom_symbol(atom_of(d, fields, coords))
            elif (known := derivative_app(d)) is not None:
                mapping[d] = known  # a known part's derivative: evaluated exactly, like data
        e = e.xreplace(mapping)
        mapping = {}
        for a in e.atoms(AppliedUndef):
            if isinstance(a, FieldFunction):
                mapping[a] = atom_symbol(atom_of(a, fields, coords))
            elif isinstance(a, DataFunction):
                mapping[a] = data_apps.setdefault(a, sympy.Dummy(f"d{len(data_apps)}", real=True))
            else:
                raise ValueError(f"unknown function {a} in {e}")
        e = e.xreplace(mapping)
        if e.has(sympy.I):
            # complex statement over real unknowns (e.g. u = u_re + I*u_im): one real residual for
            # the real part and one for the imaginary part
            replaced.extend(_real_imag(e))
        else:
            replaced.append(e)

    # collapse linear combinations of second derivatives into combos
    combos: list[Combo] = []
    combo_syms: list[sympy.Symbol] = []
    coef_exprs: list = []
    all_atom_syms = set(atoms.values()) | set(kept.values())
    if collapse:
        second = {a: s for a, s in atoms.items() if a.order == 2}
        for i, e in enumerate(replaced):
            by_comp: dict[int, list[Atom]] = {}
            for a, s in second.items():
                if e.has(s):
                    by_comp.setdefault(a.component, []).append(a)
            for comp, group in sorted(by_comp.items()):
                if len(group) < 2:
                    continue
                group.sort(key=lambda a: a.orders, reverse=True)
                syms = [second[a] for a in group]
                coefs = [sympy.diff(e, s) for s in syms]
                if any(c.free_symbols & all_atom_syms for c in coefs):
                    continue  # nonlinear in the unknowns, or trained coefficients: leave the atoms separate
                rest = e.xreplace({s: 0 for s in syms})
                idx = []
                for c in coefs:  # identical coefficient expressions share an index (and a jet stream)
                    if c not in coef_exprs:
                        coef_exprs.append(c)
                    idx.append(coef_exprs.index(c))
                combo = Combo(comp, tuple(a.orders for a in group), tuple(idx))
                sym = sympy.Dummy(f"c{len(combos)}")
                combos.append(combo)
                combo_syms.append(sym)
                e = rest + sym
            replaced[i] = e
        # atoms that survive only inside combos are no longer needed
        used = set().union(*(e.free_symbols for e in replaced)) if replaced else set()
        atoms = {a: s for a, s in atoms.items() if s in used}

    normals = [normal_symbol(c) for c in coords]
    uses_normals = any(e.free_symbols & set(normals) for e in replaced) or \
        any(sympy.sympify(c).free_symbols & set(normals) for c in coef_exprs)
    data_list = list(data_apps)
    names = tuple(sorted(kept))
    args = [*coords, *normals, *data_apps.values(), *(kept[k] for k in names), *atoms.values(), *combo_syms]
    fn = sympy.lambdify(args, replaced, modules=_MODULES, cse=True)
    cargs = [*coords, *normals, *data_apps.values()]
    coef_fn = sympy.lambdify(cargs, coef_exprs, modules=_MODULES, cse=True) if coef_exprs else None
    return CompiledExpression(tuple(exprs) if len(exprs) == len(replaced) else tuple(replaced), coords, tuple(atoms),
                              tuple(combos), tuple(data_list), bool(uses_normals), fn, coef_fn, len(coef_exprs),
                              tuple(replaced), tuple(atoms.values()), tuple(combo_syms), tuple(coef_exprs), names,
                              tuple(args))


@dataclass
class CompiledTerm:
    """One loss term: a condition's residuals on its region, weight and reduction.

    ``sided`` terms (reduction "bce") compile the two sides instead of their difference: the
    expression's rows are the left sides ``(k,)`` then the right sides ``(k,)``."""

    name: str
    region: object
    weight: float
    batch: int | None
    method: str | None
    reduction: str
    expression: CompiledExpression
    sided: bool = False

    def reduce(self, residuals: torch.Tensor) -> torch.Tensor:
        """Reduce residuals ``(n_residuals, N)`` to a scalar: mean square, mean absolute, sum of
        squares, or (sided rows: logits then labels) mean binary cross-entropy with logits."""
        if self.reduction == "mse":
            return residuals.square().mean(dim=1).sum()
        if self.reduction == "mae":
            return residuals.abs().mean(dim=1).sum()
        if self.reduction == "bce":
            logits, labels = residuals.chunk(2)
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none") \
                .mean(dim=1).sum()
        return residuals.square().sum()


@dataclass
class CompiledObservation:
    """One data term: an observation's expressions ``(C entries)`` compiled, with its measurements."""

    name: str
    observation: object
    expression: CompiledExpression


@dataclass
class CompiledProblem:
    """A problem's conditions (``terms``) and observations, compiled; ``parameters`` are the
    names of its trainable parameters."""

    problem: object
    terms: tuple[CompiledTerm, ...]
    observations: tuple[CompiledObservation, ...] = ()
    parameters: tuple[str, ...] = ()

    @property
    def max_order(self) -> int:
        exprs = [t.expression for t in self.terms] + [o.expression for o in self.observations]
        return max(e.max_order for e in exprs)


def compile_problem(problem, *, collapse: bool = True) -> CompiledProblem:
    """Compile every condition of ``problem`` into a :class:`CompiledTerm` and every observation
    into a :class:`CompiledObservation`; trainable parameters stay arguments."""
    trainable = tuple(problem.trainable)
    kw = dict(fields=problem.fields, coords=problem.domain.coords, params=problem.params, trainable=trainable,
              hard=problem.hard)
    terms = []
    for c in problem.conditions:
        if c.hard:  # imposed by the form of the answer, not a loss term
            continue
        exprs = [*(a for a, _ in c.eq.sides), *(b for _, b in c.eq.sides)] if c.sided else c.eq.residuals
        expr = compile_expressions(exprs, collapse=collapse, **kw)
        terms.append(CompiledTerm(c.name, c.on, c.weight, c.batch, c.method, c.reduction, expr, c.sided))
    observations = tuple(CompiledObservation(o.name, o, compile_expressions(o.exprs, collapse=collapse, **kw))
                         for o in problem.observations)
    return CompiledProblem(problem, tuple(terms), observations, trainable)
