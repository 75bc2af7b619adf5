import os

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("agg")
os.environ.setdefault("PINR_FAST", "1")
# the test networks are tiny: one thread is fastest and avoids OpenMP spinning when cores are
# shared (two threads made small-tensor tests up to 100x slower on a busy 2-core machine)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def errors_before_and_after():
    """``f(problem, metric, backbone_options, steps=150)``: the metric's ``rel_l2`` of the
    untrained network and after ``steps`` Adam steps (batch 512, lr 2e-3, seed 0)."""
    from pinr.solvers import PINNSolver

    def run(problem, metric, backbone_options, steps: int = 150):
        return [metric(PINNSolver.from_options(problem, steps=n, batch=512, lr=2e-3, backbone_options=backbone_options,
                                  progress=False, seed=0).run())["rel_l2"] for n in (0, steps)]

    return run


# ---- triangle meshes with known geometry, shared by the geometry and problem tests
def icosphere(subdivisions: int = 3, radius: float = 1.0):
    """Icosahedron refined ``subdivisions`` times, vertices projected onto the sphere (outward faces)."""
    t = (1 + 5**0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
         (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6),
         (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10),
         (8, 6, 7), (9, 8, 1)]
    verts = [np.array(p, dtype=float) / np.linalg.norm(p) for p in v]
    faces = list(f)
    for _ in range(subdivisions):
        cache, new = {}, []

        def mid(i, j, cache=cache):
            key = (min(i, j), max(i, j))
            if key not in cache:
                m = verts[i] + verts[j]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return radius * np.array(verts), np.array(faces)


def box_mesh(half):
    """The 12-triangle surface of the box [-h, h], outward faces."""
    h = np.asarray(half, dtype=float)
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * h
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = []
    for a, b, c, d in quads:
        f += [(a, b, c), (a, c, d)]
    f = np.array(f)
    tri = v[f]
    outward = (np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) * tri.mean(1)).sum(-1) > 0
    f[~outward] = f[~outward][:, ::-1]
    return v, f


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def make_icosphere():
    return icosphere


@pytest.fixture
def make_box_mesh():
    return box_mesh


@pytest.fixture
def saved_bytes_per_point():
    """``f(state, term, batch)``: the bytes autograd saves for the backward of ``term``'s loss on
    one sampled batch of ``batch`` points, per point (each storage counted once)."""

    def measure(state, term, batch: int) -> float:
        saved = {}

        def pack(t):
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            term.loss(state.model, term.sample(state.generator))
        return sum(saved.values()) / batch

    return measure
