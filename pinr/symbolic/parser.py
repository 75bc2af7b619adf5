r"""The string form of a statement: one side of an equation read over a closed namespace.
Floor: statement (below :mod:`pinr.symbolic.problem`, which builds equations from what it reads;
imports only the expressions and errors).

:func:`parse_expression` reads a formula with :func:`ast.parse` (which executes nothing), checks
the tree against a closed grammar and size limits (:data:`MAX_CHARS`, :data:`MAX_NODES`,
:data:`MAX_DEPTH`, :data:`MAX_EXPONENT`, :data:`MAX_MAGNITUDE`), then builds it with sympy.
:func:`namespace` is the closed namespace of a statement (its coordinates, normal components,
fields, parameters, data and :data:`STRING_FUNCTIONS`); :class:`pinr.Problem.from_strings` and
saved solutions' hard conditions (:func:`pinr.solution.load`) read through them.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping, Sequence

import sympy

from ..errors import ProblemError
from . import expressions as ex
from .expressions import FieldFunction, NormalComponent, Parameter

__all__ = ["parse_expression", "namespace", "located", "exact_from_strings", "shorten", "STRING_FUNCTIONS",
           "OPERATORS", "MAX_CHARS", "MAX_NODES", "MAX_DEPTH", "MAX_EXPONENT", "MAX_MAGNITUDE"]


def namespace(domain, *, fields: Mapping[str, int] | Sequence[str] = ("u",), params: Mapping | None = None,
              data: Mapping | None = None) -> dict[str, object]:
    """The closed namespace of a statement on ``domain``: its coordinates, ``n_x``-style normal
    components, the ``fields`` (name → components, or names of scalar fields), ``params`` (name →
    number or :class:`~pinr.symbolic.expressions.Parameter`), ``data`` (name → ``pr.Data``
    expression) and :data:`STRING_FUNCTIONS`."""
    field_specs = dict(fields) if isinstance(fields, Mapping) else {f: 1 for f in fields}
    ns: dict[str, object] = {c.name: c for c in domain.coords}
    ns.update({f"n_{c.name}": ex.normal_symbol(c) for c in domain.coords})
    for name, comps in field_specs.items():
        ns[name] = domain.field(name, comps)
    for name, value in (params or {}).items():
        if isinstance(value, Parameter) and value.name != name:
            raise ValueError(f"params: {name!r} maps to the parameter named {value.name!r}; use one name")
        ns[name] = value if isinstance(value, Parameter) else Parameter(name, value)
    for name, value in (data or {}).items():
        ns[name] = value
    ns.update(STRING_FUNCTIONS)
    return ns


def located(where: str, fn, *args):
    """``fn(*args)``, with an error's message prefixed by ``where`` (its type kept)."""
    try:
        return fn(*args)
    except (ValueError, TypeError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        raise (ValueError if isinstance(err, KeyError) else type(err))(f"{where}: {message}") from None


def exact_from_strings(exact, ns: Mapping):
    """``exact`` with its formula strings parsed over the coordinates, parameters and elementary
    functions of ``ns`` (no fields, no derivatives); other values pass unchanged."""
    if isinstance(exact, str):
        return _exact_formula(exact, ns)
    if isinstance(exact, Mapping):
        return {k: _exact_formula(v, ns) if isinstance(v, str) else v for k, v in exact.items()}
    if isinstance(exact, (list, tuple)) and any(isinstance(v, str) for v in exact):
        return [_exact_formula(v, ns) if isinstance(v, str) else v for v in exact]
    return exact


def _exact_formula(text: str, ns: Mapping):
    known = {k: v for k, v in ns.items()
             if isinstance(v, sympy.Expr) and not isinstance(v, (FieldFunction, NormalComponent))}
    known.update({k: v for k, v in STRING_FUNCTIONS.items() if k not in OPERATORS})
    return parse_expression(text, known, text)


OPERATORS = ("dt", "D", "grad", "div", "lap", "dn", "norm", "dot")
STRING_FUNCTIONS = {
    "dt": ex.dt, "D": ex.D, "grad": ex.grad, "div": ex.div, "lap": ex.lap, "dn": ex.dn,
    "norm": ex.norm, "dot": ex.dot,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "exp": sympy.exp, "log": sympy.log,
    "sqrt": sympy.sqrt, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "abs": sympy.Abs,
    "Abs": sympy.Abs, "atan2": sympy.atan2, "pi": sympy.pi, "E": sympy.E, "I": sympy.I,
}


# Limits of the string form, checked before anything is built: a problem string is a short
# formula, so these refuse nothing a person writes by hand and bound the time sympy can spend.
MAX_CHARS = 10_000      # characters in one equation
MAX_NODES = 2_000       # syntax-tree nodes in one side of an equation
MAX_DEPTH = 100         # nesting depth (a chain a + b - c ... or a * b / c ... counts as one level)
MAX_EXPONENT = 64       # |numeric exponent|, multiplied along nested powers such as (x**a)**b
MAX_MAGNITUDE = sympy.Float("1e300")  # largest number a constant subexpression may reach
_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)

_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)
_OPERATOR_TEXT = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
                  ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not"}
_NODE_TEXT = {ast.Attribute: "attribute access (a.b)", ast.Lambda: "lambda", ast.Compare: "comparisons",
              ast.BoolOp: "and / or", ast.IfExp: "if-else", ast.Dict: "dicts", ast.Set: "sets",
              ast.Starred: "*args", ast.Slice: "slices", ast.JoinedStr: "f-strings", ast.NamedExpr: ":=",
              ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.Await: "await"}


def shorten(whole: str) -> str:
    return repr(whole) if len(whole) <= 80 else repr(whole[:60]) + f"... ({len(whole)} characters)"


def parse_expression(text: str, ns: Mapping, whole: str):
    r"""One side of a problem-string equation as a sympy expression (or a list of them).

    ``text`` is read by :func:`ast.parse` in ``"eval"`` mode, which builds a syntax tree and
    executes nothing. The tree is checked against a closed grammar before any sympy object is
    made: integer, decimal and imaginary literals; names from ``ns``; ``+ - * / **`` (``^`` is
    ``**``) and unary ``-``/``+``; calls of the functions in ``ns`` with positional arguments;
    ``v[i]`` with a literal integer ``i``; lists and tuples as a whole side (``grad(u) = [1, 2]``)
    or as call arguments (``D(u, (x, 2))``). Limits: :data:`MAX_CHARS` characters, :data:`MAX_NODES`
    nodes, nesting depth :data:`MAX_DEPTH`; a numeric exponent :math:`e` needs
    :math:`|e| \le` :data:`MAX_EXPONENT`, with nested powers' exponents multiplied
    (:math:`(x^a)^b` counts :math:`|ab|`); an exponent must not itself contain a power (no
    towers such as ``9**9**9``); a constant subexpression stays below :data:`MAX_MAGNITUDE` in
    magnitude and finite. Integers become :class:`sympy.Integer`, decimals :class:`sympy.Float`
    at the precision written, ``2j`` is ``2*I``; arithmetic is sympy's, so ``1/2`` is
    :class:`sympy.Rational`.

    Raises :class:`ValueError` for text outside the grammar or the limits and
    :class:`~pinr.errors.ProblemError` for an undeclared name.
    """
    if len(whole) > MAX_CHARS:
        raise ValueError(f"problem string {shorten(whole)} is {len(whole)} characters long; the limit is "
                         f"{MAX_CHARS}: state a problem this large with the object form (pr.Eq)")
    source = text.strip().replace("^", "**")  # ^ is power, as in sympy's convert_xor
    if not source:
        raise ValueError(f"{shorten(whole)}: one side of the equation is empty; write e.g. 'lap(u) = 0'")
    try:
        tree = ast.parse(source, mode="eval")
    except (RecursionError, MemoryError):
        raise ValueError(f"{shorten(whole)} nests too deeply or chains too many terms for the parser; shorten it "
                         f"(at most {MAX_NODES} nodes, depth {MAX_DEPTH}) or use the object form (pr.Eq)") from None
    except (SyntaxError, ValueError) as err:
        raise ValueError(f"cannot parse {shorten(whole)}: {getattr(err, 'msg', err)}") from None
    _check_tree(tree.body, ns, whole)
    return _Builder(source, ns, whole).build(tree.body, top=True)


def _check_tree(root: ast.AST, ns: Mapping, whole: str) -> None:
    """Refuse nodes outside the grammar, unknown names, and trees over the size or depth limits.

    Iterative (an explicit stack), so a tree of any depth is checked without recursion.
    """
    stack = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ValueError(f"{shorten(whole)} has more than {MAX_NODES} syntax nodes; shorten it or use the "
                             "object form (pr.Eq)")
        if depth > MAX_DEPTH:
            raise ValueError(f"{shorten(whole)} nests deeper than {MAX_DEPTH} levels; flatten it or use the "
                             "object form (pr.Eq)")
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float, complex):
                raise ValueError(f"{shorten(whole)}: the literal {node.value!r} is not allowed; only numbers are")
        elif isinstance(node, ast.Name):
            _check_name(node.id, ns, whole)
        elif isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in (*_ADDITIVE, *_MULTIPLICATIVE, ast.Pow):
                raise ValueError(f"{shorten(whole)}: the operator {_OPERATOR_TEXT.get(op, op.__name__)!r} is not "
                                 "allowed in a problem string; use + - * / ** (or ^)")
            left = depth if _group(node.left) == _group(node) and op is not ast.Pow else depth + 1
            stack += [(node.left, left), (node.right, depth + 1)]
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ValueError(f"{shorten(whole)}: the operator {_OPERATOR_TEXT[type(node.op)]!r} is not allowed "
                                 "in a problem string; use + - * / ** (or ^)")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ValueError(f"{shorten(whole)}: only named functions can be called, such as lap(u) or sin(x)")
            _check_name(node.func.id, ns, whole)
            if node.func.id not in STRING_FUNCTIONS or not callable(STRING_FUNCTIONS[node.func.id]):
                raise ValueError(f"{shorten(whole)}: {node.func.id!r} is not a function; the functions are "
                                 f"{sorted(k for k, v in STRING_FUNCTIONS.items() if callable(v))}")
            if node.keywords:
                raise ValueError(f"{shorten(whole)}: {node.func.id}() takes positional arguments only, "
                                 f"got {node.keywords[0].arg or '**'}=...")
            stack += [(a, depth + 1) for a in node.args]
        elif isinstance(node, ast.Subscript):
            index = node.slice
            if not (isinstance(index, ast.Constant) and type(index.value) is int):
                raise ValueError(f"{shorten(whole)}: an index must be a non-negative integer literal, as in v[0]")
            stack.append((node.value, depth + 1))
        elif isinstance(node, (ast.List, ast.Tuple)):
            stack += [(e, depth + 1) for e in node.elts]
        else:
            what = _NODE_TEXT.get(type(node), type(node).__name__)
            raise ValueError(f"{shorten(whole)}: {what} is not allowed in a problem string; write numbers, declared "
                             "names, + - * / **, function calls and [lists]")


def _check_name(name: str, ns: Mapping, whole: str) -> None:
    if name.startswith("_"):
        raise ValueError(f"{shorten(whole)}: {name!r} is not allowed in a problem string")
    if name not in ns:
        raise ProblemError(f"{shorten(whole)} uses the undeclared name {name!r}; known names are "
                           f"{sorted(k for k in ns if k not in STRING_FUNCTIONS)} and the functions "
                           f"{sorted(STRING_FUNCTIONS)}; declare parameters with params={{...}}")


def _group(node: ast.AST):
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, _ADDITIVE):
            return ast.Add
        if isinstance(node.op, _MULTIPLICATIVE):
            return ast.Mult
    return None


def _has_power(node: ast.AST) -> bool:
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node))


def _is_constant(node: ast.AST) -> bool:
    return not any(isinstance(n, ast.Name) for n in ast.walk(node))


class _Builder:
    r"""Builds sympy objects from a tree :func:`_check_tree` accepted (recursion bounded by its depth).

    ``budget`` is the largest numeric exponent still allowed where a node sits: each power
    with numeric exponent :math:`e` divides the budget of its base by :math:`\max(1, |e|)`.
    """

    def __init__(self, source: str, ns: Mapping, whole: str):
        self.source, self.ns, self.whole = source, ns, whole

    def fail(self, message: str):
        raise ValueError(f"{shorten(self.whole)}: {message}")

    def build(self, node: ast.AST, *, budget: float = MAX_EXPONENT, top: bool = False, argument: bool = False):
        if isinstance(node, (ast.List, ast.Tuple)):
            if not (top or argument):
                self.fail("a [list] can only be a whole side of an equation or a function argument")
            items = [self.build(e, budget=budget) for e in node.elts]
            if any(isinstance(i, (list, tuple, sympy.MatrixBase)) for i in items):
                self.fail("list entries must be scalars, not vectors")
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Constant):
            value = self.number(node)
        elif isinstance(node, ast.Name):
            value = self.ns[node.id]
            if node.id in STRING_FUNCTIONS and callable(value):
                self.fail(f"{node.id} is a function; call it, as in {node.id}(x)")
        elif isinstance(node, ast.UnaryOp):
            value = self.build(node.operand, budget=budget)
            value = self.apply(operator.neg, value) if isinstance(node.op, ast.USub) else value
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            value = self.power(node, budget)
        elif isinstance(node, ast.BinOp):
            value = self.chain(node, budget)
        elif isinstance(node, ast.Subscript):
            base = self.build(node.value, budget=budget)
            if not isinstance(base, sympy.MatrixBase):
                self.fail(f"{ast.get_source_segment(self.source, node.value)} is not a vector, so it has no "
                          f"entry [{node.slice.value}]")
            if not 0 <= node.slice.value < len(base):
                self.fail(f"index [{node.slice.value}] is out of range for a vector of {len(base)} entries")
            value = base[node.slice.value]
        else:  # ast.Call, the last node type _check_tree lets through
            fn = STRING_FUNCTIONS[node.func.id]
            args = [self.build(a, budget=budget, argument=True) for a in node.args]
            # integer literals stay Python ints, so that dt(u, 2) reads its order as an int
            args = [int(v) if isinstance(a, ast.Constant) and type(a.value) is int else v
                    for a, v in zip(node.args, args)]
            value = self.apply(fn, *args, name=node.func.id)
        return self.bounded(value)

    def number(self, node: ast.Constant):
        v = node.value
        if type(v) is int:
            return sympy.Integer(v)
        if type(v) is complex:
            if v.real:
                self.fail(f"the literal {v!r} is not allowed; write complex numbers as a + b*I")
            text = ast.get_source_segment(self.source, node).replace("_", "")[:-1]
            if text.isdigit():
                return sympy.Integer(text) * sympy.I
            self.check_literal(text, v.imag)
            return sympy.Float(text) * sympy.I
        text = ast.get_source_segment(self.source, node).replace("_", "")
        self.check_literal(text, v)
        return sympy.Float(text)

    def check_literal(self, text: str, value: float):
        """Refuse a decimal outside 1e-300 .. 1e300 (sympy would spend seconds on ``1e-99999``)."""
        zero = set(text.lower().split("e")[0]) <= set("0.")
        if not (zero or 1e-300 <= abs(value) <= 1e300):
            self.fail(f"the number {text} is outside 1e-300 .. 1e300 in magnitude; rescale the problem")

    def chain(self, node: ast.BinOp, budget: float):
        """``a + b - c ...`` or ``a * b / c ...``: the left spine walked in a loop, combined at once."""
        group = _group(node)
        operands = []
        while _group(node) == group:
            operands.append((type(node.op), node.right))
            node = node.left
        operands.append((ast.Add if group is ast.Add else ast.Mult, node))
        operands.reverse()
        values = [(op, self.build(n, budget=budget)) for op, n in operands]
        if all(isinstance(v, sympy.Expr) for _, v in values):
            if group is ast.Add:
                return sympy.Add(*[v if op is ast.Add else -v for op, v in values])
            return sympy.Mul(*[v if op is ast.Mult else sympy.Pow(v, -1) for op, v in values])
        fold = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
        out = values[0][1]
        for op, v in values[1:]:
            out = self.apply(fold[op], out, v)
        return out

    def power(self, node: ast.BinOp, budget: float):
        exponent_node = node.right
        if _has_power(exponent_node):
            self.fail(f"the exponent {ast.get_source_segment(self.source, exponent_node)} contains a power; towers "
                      f"such as 9**9**9 are refused: compute the exponent (at most {MAX_EXPONENT}) yourself")
        if _is_constant(exponent_node):
            exponent = self.build(exponent_node)
            if not (isinstance(exponent, sympy.Number) and exponent.is_real):
                self.fail(f"the exponent {ast.get_source_segment(self.source, exponent_node)} must be a real number")
            size = abs(float(exponent))
            if size > budget:
                nested = "" if budget == MAX_EXPONENT else " (exponents of nested powers multiply)"
                self.fail(f"the exponent {ast.get_source_segment(self.source, exponent_node)} is too large{nested}; "
                          f"numeric exponents are limited to ±{MAX_EXPONENT}")
            base = self.build(node.left, budget=budget / max(1.0, size))
        else:
            exponent = self.build(exponent_node)
            base = self.build(node.left, budget=budget)
        return self.apply(operator.pow, base, exponent)

    def apply(self, fn, *args, name: str | None = None):
        """``fn(*args)``, one sympy operation; its TypeErrors and the like become one-line
        ValueErrors (ValueErrors, such as "dt needs a time axis", pass unchanged)."""
        try:
            return fn(*args)
        except ValueError:
            raise
        except (ArithmeticError, TypeError, AttributeError, IndexError, KeyError, NotImplementedError) as err:
            where = f"{name}(...)" if name else "an operation"
            raise ValueError(f"cannot parse {shorten(self.whole)}: {where} failed: "
                             f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None

    def bounded(self, value):
        """Refuse a constant that is infinite, undefined or larger than :data:`MAX_MAGNITUDE`."""
        if isinstance(value, (sympy.Basic, sympy.MatrixBase)) and value.has(*_UNDEFINED):
            self.fail("a part evaluates to an infinite or undefined value (a division by zero, log(0)?); "
                      "fix the expression")
        if isinstance(value, sympy.Number):
            if abs(value) > MAX_MAGNITUDE:
                self.fail("a constant part exceeds 1e300 in magnitude; rescale the problem")
        return value
