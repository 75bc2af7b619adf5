r"""Domains written as strings, read by a closed grammar: nothing in the text is executed.

``parse_domain("Rectangle(x=(-1, 1), y=(-1, 1)) - Rectangle(x=(0, 1), y=(0, 1))")`` is the
L-shape, ``parse_domain("Interval(x=(0, 1)) * TimeInterval(0, 2)")`` a space-time domain. The
text is read by :func:`ast.parse` (which builds a syntax tree and runs nothing) and the tree is
walked over a whitelist:

- calls of the shapes in :data:`SHAPES` by name, with positional or keyword arguments;
- arguments that are numbers, ``pi``, ``+ - * / **`` between them (numeric exponents within
  ±:data:`MAX_EXPONENT`, no powers inside an exponent), tuples or lists of these (a polygon's
  vertices), and identifiers as strings (``TimeInterval(0, 1, name="s")``);
- the set operations ``A - B``, ``A | B``, ``A & B`` between shapes and the product
  ``space * TimeInterval(t0, t1)`` (time last).

Everything else (attribute access, other names, lambdas, comprehensions, keyword unpacking, ...)
and text over :data:`MAX_CHARS` characters, :data:`MAX_NODES` syntax nodes or depth
:data:`MAX_DEPTH` raises a one-line :class:`ValueError` naming the culprit.
"""

from __future__ import annotations

import ast
import math
import operator

from ..domains import Ball, Box, Disk, Interval, Polygon, Rectangle, TimeInterval, Torus
from ..domains.base import AbstractDomain

__all__ = ["parse_domain", "SHAPES"]

#: the constructors a domain string may call
SHAPES = {"Interval": Interval, "Rectangle": Rectangle, "Box": Box, "Disk": Disk, "Ball": Ball, "Torus": Torus,
          "Polygon": Polygon, "TimeInterval": TimeInterval}

# A domain is a short formula: these refuse nothing written by hand and bound the work done.
MAX_CHARS = 2_000
MAX_NODES = 1_000
MAX_DEPTH = 20
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e300

_SET_OPERATIONS = {ast.Sub: operator.sub, ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.Mult: operator.mul}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.Pow: operator.pow}
_HELP = "write shapes such as Rectangle(x=(0, 1), y=(0, 1)), joined by - | & and * TimeInterval(t0, t1)"


def _short(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:60]) + f"... ({len(text)} characters)"


def parse_domain(text: str) -> AbstractDomain:
    """The domain ``text`` states (see the module docstring for the grammar)."""
    if not isinstance(text, str):
        raise TypeError(f"a domain string is text such as 'Rectangle(x=(0, 1), y=(0, 1))', got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValueError(f"domain {_short(text)} is {len(text)} characters long; the limit is {MAX_CHARS}: "
                         "build a domain this large in Python")
    if not text.strip():
        raise ValueError(f"the domain is empty; {_HELP}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ValueError(f"domain {_short(text)} nests too deeply; the limit is depth {MAX_DEPTH}") from None
    except (SyntaxError, ValueError) as err:
        raise ValueError(f"cannot parse domain {_short(text)}: {getattr(err, 'msg', err)}; {_HELP}") from None
    nodes = sum(1 for _ in ast.walk(tree))  # ast.walk is iterative: any depth is counted safely
    if nodes > MAX_NODES:
        raise ValueError(f"domain {_short(text)} has {nodes} syntax nodes; the limit is {MAX_NODES}")
    return _Reader(text.strip()).domain(tree.body, 1)


class _Reader:
    """Builds the domain from a syntax tree, node by node over the whitelist (recursion bounded
    by :data:`MAX_DEPTH`)."""

    def __init__(self, text: str):
        self.text = text

    def fail(self, message: str):
        raise ValueError(f"domain {_short(self.text)}: {message}")

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def deeper(self, depth: int) -> int:
        if depth >= MAX_DEPTH:
            self.fail(f"nests deeper than {MAX_DEPTH} levels")
        return depth + 1

    def domain(self, node: ast.AST, depth: int) -> AbstractDomain:
        if isinstance(node, ast.Call):
            return self.shape(node, depth)
        if isinstance(node, ast.BinOp) and type(node.op) in _SET_OPERATIONS:
            # a chain A - B - C ... (its left spine) counts as one level, as in the formula parser
            chained = isinstance(node.left, ast.BinOp) and type(node.left.op) in _SET_OPERATIONS
            a = self.domain(node.left, depth if chained else self.deeper(depth))
            b = self.domain(node.right, self.deeper(depth))
            try:
                out = _SET_OPERATIONS[type(node.op)](a, b)
            except (TypeError, ValueError) as err:
                detail = str(err).splitlines()[0] if str(err) else type(err).__name__
                if isinstance(node.op, ast.Mult):
                    detail = "* multiplies a space by a TimeInterval, time last: space * TimeInterval(t0, t1)"
                self.fail(f"cannot combine {a!r} and {b!r}: {detail}")
            if not isinstance(out, AbstractDomain):
                self.fail(f"{self.segment(node)} is not a domain")
            return out
        self.fail(f"{self.segment(node)!r} is not a shape; {_HELP}")

    def shape(self, node: ast.Call, depth: int) -> AbstractDomain:
        if not isinstance(node.func, ast.Name) or node.func.id not in SHAPES:
            self.fail(f"{self.segment(node.func)!r} is not a shape; the shapes are {', '.join(SHAPES)}")
        name = node.func.id
        args = [self.value(a, self.deeper(depth)) for a in node.args]
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                self.fail(f"{name}(**...) is not allowed; name each argument, as in x=(0, 1)")
            if k.arg.startswith("_"):
                self.fail(f"{name}({k.arg}=...): argument names cannot start with '_'")
            kwargs[k.arg] = self.value(k.value, self.deeper(depth))
        try:
            return SHAPES[name](*args, **kwargs)
        except (TypeError, ValueError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            self.fail(f"{name}(...): {detail}")

    def value(self, node: ast.AST, depth: int):
        """A number, an identifier string, or a tuple of values (lists read as tuples)."""
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.value(e, self.deeper(depth)) for e in node.elts)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not (node.value.isidentifier() and len(node.value) <= 32):
                self.fail(f"the string {node.value[:40]!r} is not allowed; strings name a coordinate, such as 't'")
            return node.value
        return self.number(node, depth)

    def number(self, node: ast.AST, depth: int) -> float:
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                self.fail(f"the literal {self.segment(node)} is not allowed; arguments are real numbers, pi, "
                          "tuples of them and coordinate names")
            try:
                value = float(node.value)
            except OverflowError:
                self.fail(f"the number {self.segment(node)[:40]} is beyond ±1e300; rescale the problem")
        elif isinstance(node, ast.Name):
            if node.id != "pi":
                self.fail(f"the name {node.id!r} is not allowed; arguments are numbers, pi and tuples of them")
            value = math.pi
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.number(node.operand, self.deeper(depth))
            value = -value if isinstance(node.op, ast.USub) else value
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            if isinstance(node.op, ast.Pow):
                if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node.right)):
                    self.fail(f"the exponent {self.segment(node.right)} contains a power; compute it yourself")
                exponent = self.number(node.right, self.deeper(depth))
                if abs(exponent) > MAX_EXPONENT:
                    self.fail(f"the exponent {self.segment(node.right)} is beyond ±{MAX_EXPONENT}")
            else:
                exponent = None
            left = self.number(node.left, self.deeper(depth))
            right = exponent if exponent is not None else self.number(node.right, self.deeper(depth))
            try:
                value = _ARITHMETIC[type(node.op)](float(left), float(right))
            except (ZeroDivisionError, OverflowError) as err:
                self.fail(f"{self.segment(node)} cannot be computed ({err})")
        else:
            what = {ast.Attribute: "attribute access (a.b)", ast.Lambda: "lambda", ast.Call: "a call"}.get(
                type(node), type(node).__name__)
            self.fail(f"{what} in {self.segment(node)!r} is not allowed as an argument; arguments are numbers, "
                      "pi and tuples of them")
        if isinstance(value, complex) or not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
            self.fail(f"{self.segment(node)} is not a real number within ±1e300")
        return value
