"""Problem files and domain strings: a closed grammar, one-line errors naming the key, and the
same Problem as the Python statement."""

import pytest
import sympy

import pinr as pr
from pinr import D, Eq, dt, lap
from pinr.errors import ProblemError
from pinr.symbolic.domain_strings import parse_domain
from pinr.symbolic.problem_file import ProblemFile

POISSON = '''
domain = "Rectangle(x=(0, 1), y=(0, 1))"
fields = ["u"]
equations = ["-lap(u) = 2*pi**2*sin(pi*x)*sin(pi*y)"]
exact = "sin(pi*x)*sin(pi*y)"

[[conditions]]
equation = "u = 0"
on = "boundary"
'''

HEAT = '''
name = "heat"
domain = "Interval(x=(0, 1)) * TimeInterval(0, 0.5)"
equations = ["dt(u) = kappa*D(u, (x, 2)) + s*u"]
periodic = []

[parameters]
kappa = {value = 0.5, trainable = true, bounds = [0.01, 2]}
s = -0.25

[[conditions]]
equation = "u = sin(pi*x)"
on = "initial"

[[conditions]]
equation = "u = 0"
on = "x-"
hard = true

[[conditions]]
equation = "dn(u) = 0"
on = "x+"
weight = 2.0

[training]
steps = 300
backbone_options = {width = 16}
'''


def _same(a: pr.Problem, b: pr.Problem):
    assert str(a) == str(b) and a.domain == b.domain and a.fields == b.fields
    assert dict(a.params) == dict(b.params) and dict(a.trainable) == dict(b.trainable)
    for ca, cb in zip(a.conditions, b.conditions, strict=True):
        assert (ca.name, ca.weight, ca.hard, ca.on.name) == (cb.name, cb.weight, cb.hard, cb.on.name)
        for ra, rb in zip(ca.eq.residuals, cb.eq.residuals, strict=True):
            assert sympy.simplify(ra - rb) == 0
    assert (a.exact is None) == (b.exact is None)
    if a.exact is not None:
        assert all(sympy.simplify(a.exact[f] - b.exact[f]) == 0 for f in a.fields)


def test_time_dependent_file_with_parameters_is_the_python_statement():
    domain = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    x, t = domain.coords
    u = domain.field("u")
    kappa = pr.Parameter("kappa", 0.5, trainable=True, bounds=(0.01, 2))
    s = pr.Parameter("s", -0.25)
    python = pr.Problem(domain, [Eq(dt(u), kappa * D(u, (x, 2)) + s * u)],
                        [pr.Initial(Eq(u, sympy.sin(sympy.pi * x))), pr.Boundary(Eq(u, 0), on="x-", hard=True),
                         pr.Boundary(Eq(pr.dn(u), 0), on="x+", weight=2.0)], name="heat")
    read = ProblemFile.from_text(HEAT)
    _same(read.problem, python)
    assert read.problem.trainable["kappa"].bounds == (0.01, 2.0)
    assert dict(read.training) == {"steps": 300, "backbone_options": {"width": 16}}


def test_stationary_file_with_exact_solution_is_the_python_statement(tmp_path):
    path = tmp_path / "poisson.toml"
    path.write_text(POISSON)
    domain = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = domain.coords
    u = domain.field("u")
    exact = sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y)
    python = pr.Problem(domain, [Eq(-lap(u), 2 * sympy.pi**2 * exact)], [pr.Boundary(Eq(u, 0))], exact=exact,
                        name="poisson")
    read = ProblemFile.read(path)
    _same(read.problem, python)  # the name is the file's stem
    assert read.path == path and dict(read.training) == {}


@pytest.mark.parametrize("text", [
    "Rectangle(x=(-1, 1), y=(-1, 1)) - Rectangle(x=(0, 1), y=(0, 1))",
    "Disk(center=(0, 0), radius=1) | Disk(center=(1, 0), radius=0.5)",
    "Box(x=(0, 1), y=(0, 1), z=(0, 1)) & Ball(center=(0, 0, 0), radius=1.2)",
    "Polygon([(0, 0), (1, 0), (0, 1)]) * TimeInterval(0, 2*pi)",
    "Interval(x=(-pi, pi)) * TimeInterval(0, 1, name='s')",
])
def test_domain_strings_build_the_python_domains(text):
    python = eval(text, {"pi": sympy.pi.evalf(), **{k: getattr(pr, k) for k in  # noqa: S307  (the test's own text)
                                                    ("Rectangle", "Disk", "Box", "Ball", "Polygon", "Interval",
                                                     "TimeInterval")}})
    assert parse_domain(text) == python


@pytest.mark.parametrize("text, culprit", [
    ("__import__('os').system('echo hi')", "not a shape"),
    ("Rectangle.__subclasses__()", "not a shape"),
    ("Rectangle(x=(0, 1), y=(0, ().__class__))", "attribute access"),
    ("(lambda: Disk())()", "not a shape"),
    ("Disk(radius=9**9**9)", "contains a power"),
    ("Disk(radius=2**65)", "beyond ±64"),
    ("Disk(radius=1e999)", "within ±1e300"),
    ("Rectangle(**{'x': (0, 1)})", "name each argument"),
    ("Disk(radius=open)", "not allowed"),
    ("Disk(_x=1)", "cannot start with '_'"),
    ("TimeInterval(0, 1) * Disk()", "time last"),
    ("Disk() - " * 400 + "Disk()", "characters long"),
    ("(" * 200 + "Disk()" + ")" * 200, "nest"),
    ("Rectangle(x=(0, 1))", "exactly two axes"),
])
def test_hostile_or_wrong_domain_strings_are_refused_in_one_line(text, culprit):
    with pytest.raises(ValueError, match=culprit) as info:
        parse_domain(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change, key", [
    (('"-lap(u)', '"u.__class__ + -lap(u)'), "equations[0]"),
    (('exact = "sin(pi*x)*sin(pi*y)"', 'exact = "__import__(\'os\')"'), "exact"),
    (('"u = 0"', '"u = (lambda: 0)()"'), "conditions[0]"),
    (('"u = 0"', '"u = x**100000"'), "exponent"),
    (('"u = 0"', '"u = ' + "x+" * 6000 + 'x"'), "characters long"),
    (('"u = 0"', '"u = eval(\'1\')"'), "eval"),
    (('"Rectangle(x=(0, 1), y=(0, 1))"', '"__import__(\'os\')"'), "domain"),
    (("fields", 'equation = ["u = 0"]\nfields'), "unknown key equation; did you mean equations?"),
    (('on = "boundary"', 'on = "boundary"\nwieght = 2'), "conditions[0].wieght; did you mean weight?"),
    (('on = "boundary"', 'on = "top"'), "conditions[0].on"),
    (('on = "boundary"', 'on = "initial"'), "conditions[0].on"),
    (('on = "boundary"', ""), "conditions[0]: missing key on"),
    (('domain = "Rectangle(x=(0, 1), y=(0, 1))"', ""), "missing key domain"),
    (('fields = ["u"]', 'fields = "u"'), "fields"),
    (('on = "boundary"', 'on = "boundary"\nweight = "heavy"'), "conditions[0].weight: expected a number"),
    (('on = "boundary"', 'on = "boundary"\nhard = 1'), "conditions[0].hard: expected true or false"),
    (("fields", "x = = 1\nfields"), "not valid TOML"),
    (('"u = 0"', '"u = k"'), "declare parameters in [parameters]"),
    (("[[conditions]]", '[parameters]\nk = "two"\n[[conditions]]'), "parameters.k"),
    (("[[conditions]]", "[parameters]\nk = {value = 1, trainible = true}\n[[conditions]]"),
     "parameters.k.trainible; did you mean trainable?"),
    (("[[conditions]]", "training = 3\n[[conditions]]"), "training: expected a table"),
])
def test_bad_problem_files_are_refused_in_one_line_naming_the_key(change, key):
    text = POISSON.replace(*change)
    assert text != POISSON
    with pytest.raises(ProblemError) as info:
        ProblemFile.from_text(text, where="p.toml")
    message = str(info.value)
    assert message.startswith("p.toml: ") and key in message and "\n" not in message, message


def test_exact_strings_see_coordinates_and_parameters_but_not_fields():
    domain = pr.Interval(x=(0, 1))
    ok = pr.Problem.from_strings(domain, ["D(u, (x, 2)) = -a*sin(x)"], [("u = 0", "x-")], params={"a": 2.0},
                                 exact="a*sin(x)")
    x, = domain.coords
    assert ok.exact["u"] == pr.Parameter("a", 2.0) * sympy.sin(x)
    for bad in ("u", "lap(x)", "x.real"):
        with pytest.raises(ValueError, match="exact"):
            pr.Problem.from_strings(domain, ["D(u, (x, 2)) = 0"], [("u = 0", "x-")], exact=bad)
