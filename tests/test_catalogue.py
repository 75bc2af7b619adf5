"""The one catalogue mechanism (problems, the suite's cases and peers, the step benchmark's cases):
registration order, sorted listing, one-line errors naming the valid entries, lazy loading."""

from __future__ import annotations

import pytest

from pinr.catalogue import Catalogue


def test_register_lists_and_builds_in_registration_order():
    c = Catalogue("widget")

    @c.register("b")
    def b(size: int = 2, *, colour="red"):
        return (size, colour)

    c.add("a", lambda: "a")
    assert list(c) == ["b", "a"] and c.names() == ["a", "b"] and len(c) == 2 and "a" in c and "z" not in c
    assert c["b"] is b and c.params("b") == {"size": 2, "colour": "red"}
    assert c.build("b", size=3) == (3, "red")
    assert c.unknown(["a", "x", "b", "y"]) == ["x", "y"]


def test_errors_name_the_culprit_and_the_valid_entries():
    c = Catalogue("widget")
    c.add("b", lambda size=2: size)
    c.add("a", lambda: 0)
    with pytest.raises(ValueError, match=r"^unknown widget 'z'; available widgets: a, b$"):
        c["z"]
    with pytest.raises(TypeError, match=r"^widget 'b' has no parameter 'colour'; its parameters are size=2$"):
        c.build("b", colour="red")
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        c.add("a", lambda: 1)
    entry = c["a"]
    c.add("a", entry)  # the same entry again (a module imported twice) is no conflict
    with pytest.raises(ValueError, match="non-empty name"):
        c.add("", entry)


def test_load_runs_once_and_is_retried_after_a_failure():
    calls = []

    def load():
        calls.append(1)
        if len(calls) == 1:
            raise ImportError("first import fails")
        c.add("late", object())

    c = Catalogue("widget", load=load)
    with pytest.raises(ImportError):
        c.names()
    assert c.names() == ["late"] and list(c) == ["late"] and len(calls) == 2


def test_the_problem_catalogue_is_one():
    from pinr import problems
    from pinr.bench import peers, steps, suite_cases

    for catalogue in (problems.PROBLEMS, steps.CASES, suite_cases.CASES, peers.PEERS, peers.DEEPXDE_PLANS):
        assert isinstance(catalogue, Catalogue)
    assert set(peers.DEEPXDE_PLANS) == set(suite_cases.CASES)  # every suite case has DeepXDE's plan
    assert problems.available_problems() == problems.PROBLEMS.names()
