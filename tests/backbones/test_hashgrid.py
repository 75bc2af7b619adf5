"""The hashgrid backbone against hand computations and mathematics: level resolutions, dense and
hashed table rows, what each kernel reproduces on a level, continuity across cell faces, jet ==
autograd for every derivative atom up to order two, gradients only on the rows read, the paper's
Adam settings per part, and a small image fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import pinr as pr
from pinr.backbones import AdamPart, Network
from pinr.backbones.hashgrid import KERNELS, PRIMES, HashGrid, level_resolutions
from pinr.compiler import Atom
from pinr.derivatives import AutogradEngine, JetEngine
from pinr.derivatives.jet import Jet
from pinr.training.optimizers import split_parts


def grid(d, **options):
    torch.manual_seed(0)
    return pr.build_backbone("hashgrid", d, 1, **options).double()


# ------------------------------------------------------------------------- resolutions, rows
def test_level_resolutions_grow_geometrically():
    assert level_resolutions(4, 16, 128) == [16, 32, 64, 128]  # b = (128/16)^(1/3) = 2
    assert level_resolutions(3, 16, 512) == [16, 90, 512]  # b = √32 = 5.657: ⌊16 b⌋ = ⌊90.51⌋
    assert level_resolutions(1, 8, 8) == [8]
    assert HashGrid(2, 1).resolutions == level_resolutions(16, 16, 2048)


def test_rows_of_a_dense_and_a_hashed_level_by_hand():
    # level 0: N = 2, 3 × 3 = 9 nodes ≤ 2^4: dense, h = n_x + 3 n_y; level 1: N = 8, 81 nodes > 16: hashed,
    # h = n_x ⊕ (n_y · 2654435761) mod 16, and 2654435761 = 0x9E3779B1 ≡ 1 (mod 16), so h = n_x ⊕ n_y mod 16
    b = HashGrid(2, 1, levels=2, base_resolution=2, max_resolution=8, log2_table=4)
    assert b.hashed == [False, True] and b.table.shape[0] == 16 + 9
    # the hashed level's 16 rows come first, then the dense level's 9
    cell = torch.tensor([[[1, 0], [5, 6]]])
    rows = b.rows(cell)[0]
    # nodes (1,0) (1,1) (2,0) (2,1): 1, 4, 2, 5 (+16)
    assert rows[0].tolist() == [17, 20, 18, 21]
    # nodes (5,6) (5,7) (6,6) (6,7): 5⊕6 = 3, 5⊕7 = 2, 6⊕6 = 0, 6⊕7 = 1
    assert rows[1].tolist() == [3, 2, 0, 1]


def test_rows_of_a_hashed_3d_level_by_hand():
    # T = 8: 2654435761 ≡ 0xB1 = 177, 805459861 ≡ 0x95 = 149 (mod 256); node (1, 2, 3):
    # 1 ⊕ (2·177 mod 256 = 98) ⊕ (3·149 mod 256 = 191) = 220; node (2, 2, 3): 2 ⊕ 98 ⊕ 191 = 223
    b = HashGrid(3, 1, levels=1, base_resolution=16, max_resolution=16, log2_table=8)
    assert b.hashed == [True]
    rows = b.rows(torch.tensor([[[1, 2, 3]]]))[0, 0]
    assert rows[0].item() == 220 and rows[4].item() == 223  # corners (0,0,0) and (1,0,0), axis 0 slowest


def test_cubic_nodes_count_from_the_cell_before():
    b = HashGrid(1, 1, levels=1, base_resolution=4, max_resolution=4, interpolation="cubic")
    assert b.table.shape[0] == 4 + 3  # nodes -1..5 of cells 0..3, shifted to 0..6
    assert b.rows(torch.tensor([[[0]], [[3]]])).tolist() == [[[0, 1, 2, 3]], [[3, 4, 5, 6]]]


# ------------------------------------------------------------------------------ reproduction
def fill_level(b: HashGrid, level: int, f):
    """Table rows of a dense ``level`` (features=1) set to ``f`` at its nodes, in cell units p."""
    d, res = b.in_features, b.resolutions[level]
    k = len(KERNELS[b.interpolation][0])
    n = res + k - 1
    shift = -min(KERNELS[b.interpolation][0])
    start = b.row_offsets[level].item()
    with torch.no_grad():
        for node in itertools.product(range(n), repeat=d):
            p = torch.tensor(node, dtype=torch.float64) - shift
            b.table[start + sum(c * n**a for a, c in enumerate(node))] = f(p)


def level_values(b, x, level):
    return b.encode(x)[:, level]


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("kind", list(KERNELS))
def test_each_level_reproduces_what_its_kernel_can(kind, d):
    """Linear and cubic kernels reproduce every linear function from its node values; the cubic
    B-spline reproduces a quadratic from its node values less ⅓ Σ a_kk; smoothstep reproduces
    constants and node values only (its weights are 1 - s(t), s(t), s ≠ t)."""
    b = grid(d, levels=3, features=1, base_resolution=3, max_resolution=7, log2_table=12, interpolation=kind)
    assert not any(b.hashed)
    g = torch.Generator().manual_seed(4)
    x = 2 * torch.rand(64, d, generator=g, dtype=torch.float64) - 1
    coef = torch.tensor([0.7, -1.3, 0.4][:d], dtype=torch.float64)
    a = torch.tensor([0.5, -0.25, 0.75][:d], dtype=torch.float64)
    for level, res in enumerate(b.resolutions):
        p = (x + 1) * res / 2

        def linear(q):
            return 0.3 + q @ coef

        fill_level(b, level, linear)
        err = (level_values(b, x, level) - linear(p)).abs().max().item()
        if kind == "smoothstep":
            assert err > 1e-2  # not reproduced
            fill_level(b, level, lambda q: torch.tensor(0.6, dtype=torch.float64))
            torch.testing.assert_close(level_values(b, x, level), torch.full((64,), 0.6, dtype=torch.float64))
            nodes = torch.floor(p[:8]) * 2 / res - 1  # node positions in x
            fill_level(b, level, linear)
            torch.testing.assert_close(level_values(b, nodes, level), linear(torch.floor(p[:8])), rtol=0, atol=1e-12)
            continue
        assert err < 1e-12, (kind, level, err)
        if kind == "cubic":

            def quadratic(q):
                return linear(q) + (q * q) @ a + q[..., 0] * q[..., -1]

            fill_level(b, level, lambda q: quadratic(q) - a.sum() / 3)
            torch.testing.assert_close(level_values(b, x, level), quadratic(p), rtol=0, atol=1e-11)
            fill_level(b, level, quadratic)  # from the node values alone: off by the constant ⅓ Σ a_kk
            torch.testing.assert_close(
                level_values(b, x, level) - quadratic(p),
                torch.full((64,), a.sum().item() / 3, dtype=torch.float64),
                rtol=0,
                atol=1e-11,
            )


# ------------------------------------------------------------------------------ continuity
def jet_of(b, x):
    d = x.shape[1]
    j = b(Jet.seed(x, list(range(d)), [[(a, a, 1.0)] for a in range(d)]))
    return j.value[:, 0], j.first[:, :, 0], j.second[:, :, 0]


@pytest.mark.parametrize("kind", list(KERNELS))
def test_continuity_across_cell_faces(kind):
    """Value, gradient and pure second derivatives on both sides of faces of every level (eps =
    1e-7): the smooth kernels are C², linear interpolation's gradient jumps."""
    b = grid(
        2,
        levels=3,
        base_resolution=4,
        max_resolution=16,
        log2_table=6,
        width=16,
        interpolation=kind,
        activation="softplus",
        init_scale=1.0,
    )
    g = torch.Generator().manual_seed(7)
    y = 2 * torch.rand(12, generator=g, dtype=torch.float64) - 1
    eps = 1e-7
    jumps = []
    for res in b.resolutions:
        face = 2 * torch.randint(1, res, (12,), generator=g).to(torch.float64) / res - 1
        left = torch.stack([face - eps, y], 1)
        right = torch.stack([face + eps, y], 1)
        (vl, gl, sl), (vr, gr, sr) = jet_of(b, left), jet_of(b, right)
        scale = gl.abs().max().item()
        assert (vl - vr).abs().max().item() < 10 * eps * scale
        jumps.append((gl - gr).abs().max().item() / scale)
        if kind != "linear":
            assert jumps[-1] < 1e-4
            assert (sl - sr).abs().max().item() < 1e-4 * sl.abs().max().item()
    if kind == "linear":
        assert min(jumps) > 1e-3


# ------------------------------------------------------------------------------ jet == autograd
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("kind", list(KERNELS))
def test_jet_equals_autograd_for_every_atom(kind, d):
    torch.manual_seed(0)
    b = pr.build_backbone(
        "hashgrid",
        d,
        2,
        levels=4,
        base_resolution=3,
        max_resolution=40,
        log2_table=8,
        width=16,
        interpolation=kind,
        activation="softplus",
        init_scale=0.3,
    ).double()
    assert any(b.hashed) and not all(b.hashed)
    net = Network(b, np.array([[-2.0, 3.0], [0.5, 1.5], [0.0, 4.0]])[:d]).double()
    g = torch.Generator().manual_seed(1)
    lo, hi = torch.tensor([-2.0, 0.5, 0.0][:d]), torch.tensor([3.0, 1.5, 4.0][:d])
    x = lo + torch.rand(40, d, generator=g, dtype=torch.float64) * (hi - lo)
    orders = [o for o in itertools.product(range(3), repeat=d) if sum(o) <= 2]
    atoms = [Atom(c, o) for o in orders for c in (0, 1)]
    jet, _ = JetEngine().evaluate(net, x, atoms)
    ref, _ = AutogradEngine().evaluate(net, x, atoms)
    for atom, u, v in zip(atoms, jet, ref):
        scale = v.abs().max().item()
        assert scale > 1e-6, atom  # (a linear kernel's u_xx comes from the softplus head alone)
        assert (u - v).abs().max().item() <= 1e-9 * scale, (kind, atom)


# ------------------------------------------------------------------------------ gradients
def test_gradients_reach_only_the_rows_read():
    b = grid(2, levels=3, base_resolution=4, max_resolution=64, log2_table=6, width=8)
    x = torch.tensor([[0.1, -0.3], [0.77, 0.52], [-0.9, 0.05]], dtype=torch.float64)
    b(x).sum().backward()
    p = (x.repeat(1, 3) + 1) * b.scale.double()
    cells = b._cells(p).long().view(3, 3, 2)
    read = set(b.rows(cells).reshape(-1).tolist())
    touched = set(torch.nonzero(b.table.grad.abs().sum(1)).reshape(-1).tolist())
    assert touched == read and len(read) < b.table.shape[0] // 4


# ------------------------------------------------------------------------------ training
def test_the_papers_adam_settings_per_part():
    b = HashGrid(2, 1, levels=2, log2_table=8, width=8)
    extra = torch.nn.Parameter(torch.zeros(3))
    groups = split_parts(
        [{"params": [extra, *b.parameters()], "lr": 1e-2}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 5e-3}]
    )
    # equal parts share a group: the table with the biases (no decay), the weights (decay 1e-6)
    assert [len(g["params"]) for g in groups] == [1, 4, 3, 1]
    assert groups[0]["params"][0] is extra and "eps" not in groups[0]
    by_param = {id(p): g for g in groups for p in g["params"]}
    table = by_param[id(b.table)]
    assert (
        table["eps"] == 1e-15 and table["betas"] == (0.9, 0.99) and table["weight_decay"] == 0 and table["lr"] == 1e-2
    )
    assert by_param[id(b.head.weight)]["weight_decay"] == 1e-6 and by_param[id(b.head.bias)]["weight_decay"] == 0
    assert groups[-1]["lr"] == 5e-3
    torch.optim.Adam(groups)  # a valid optimiser
    with pytest.raises(ValueError, match="AdamPart needs"):
        AdamPart(eps=0.0)


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(ValueError, match="hashgrid encodes 1 to 4 input coordinates, got 5"):
        HashGrid(5, 1)
    with pytest.raises(ValueError, match="interpolation must be one of linear, smoothstep, cubic"):
        HashGrid(2, 1, interpolation="quadratic")
    with pytest.raises(ValueError, match="max_resolution must be an integer >= base_resolution"):
        HashGrid(2, 1, base_resolution=64, max_resolution=32)
    with pytest.raises(ValueError, match="log2_table must be an integer in 2..30"):
        HashGrid(2, 1, log2_table=40)


def test_a_small_image_fits():
    """camera at 64² (gray): 300 steps reach 40 dB (measured: 45.9 dB), trained with the
    paper's Adam settings on the table."""
    problem = pr.problems.get("image", size=64, gray=True)
    solver = pr.solvers.PINNSolver.from_options(
        problem,
        backbone="hashgrid",
        backbone_options=dict(log2_table=14, max_resolution=64, levels=8),
        steps=300,
        progress=False,
        threads=1,
    )
    sol = solver.run()
    psnr = pr.compare(sol, pr.reference(problem))["psnr"]
    assert psnr > 40, psnr
    table = solver.state.model.network.backbone.table
    group = next(g for g in solver.state.optimizer.param_groups if any(p is table for p in g["params"]))
    assert group["eps"] == 1e-15 and group["betas"] == (0.9, 0.99)


@pytest.mark.parametrize("case", ["fit", "laplacian"])
def test_the_memory_estimate_bounds_what_autograd_keeps(case, saved_bytes_per_point):
    """The encoding declares what it keeps per point (``point_widths``), so the memory plan's
    k·S·W·b bounds what autograd saves for a hashgrid training step."""
    from pinr import Eq, lap, memory
    from pinr.solvers import PINNSolver

    dom = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = dom.coords
    u = dom.field("u")
    eq = {"fit": Eq(u, x * y), "laplacian": Eq(lap(u), x)}[case]
    options = dict(levels=8, log2_table=10, max_resolution=256, interpolation="cubic", activation="softplus")
    solver = PINNSolver.from_options(
        pr.Problem(dom, [eq], name=case),
        backbone="hashgrid",
        backbone_options=options,
        steps=1,
        batch=256,
        progress=False,
        hard=False,
    )
    state = solver.build()
    term = solver.terms[0]
    assert memory.layer_widths(state.model.network)[-1] == 8 * 16 * (2 + 3)
    per_point = saved_bytes_per_point(state, term, 256)
    slots = memory.derivative_slots(term.expression, state.model.engine.name)
    assert per_point <= memory.bytes_per_point(state.model.network, slots=slots)


@pytest.mark.parametrize("kind", ["linear", "cubic"])
def test_the_fused_lookup_gives_autograds_values_and_table_gradients(kind):
    """Inputs without derivatives take the fused lookup (a flat scatter-add for the table's
    gradient); it agrees with the autograd path that inputs with derivatives take, in float64."""
    b = grid(3, levels=4, base_resolution=3, max_resolution=40, log2_table=8, width=8, interpolation=kind,
             init_scale=0.3).double()
    assert any(b.hashed) and b.index_dtype == torch.int32
    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1
    fused = b(x)
    fused.pow(2).sum().backward()
    g_fused, b.table.grad = b.table.grad.clone(), None
    tracked = b(x.clone().requires_grad_(True))
    tracked.pow(2).sum().backward()
    assert torch.allclose(fused, tracked, rtol=0, atol=1e-13)
    assert torch.allclose(g_fused, b.table.grad, rtol=0, atol=1e-13) and g_fused.abs().sum() > 0


def test_indices_stay_int64_where_int32_would_overflow():
    """A prime enters modulo 2^T; with 2^T times the node count past 2^31 the rows are int64,
    and both give the same rows where both fit."""
    big = HashGrid(3, 1, levels=2, log2_table=22, base_resolution=16, max_resolution=1024, width=4)
    small = HashGrid(3, 1, levels=2, log2_table=14, base_resolution=16, max_resolution=1024, width=4)
    assert big.index_dtype == torch.long and small.index_dtype == torch.int32
    cells = torch.tensor([[[3, 700, 1023], [5, 9, 1000]]])
    mask = (1 << 14) - 1
    by_hand = 0
    for axis, prime in enumerate(PRIMES[:3]):
        by_hand ^= ((int(cells[0, 1, axis]) + 1) * prime) & mask  # node (1, 1, 1) of the hashed level 1
    assert small.rows(cells)[0, 1, -1].item() == small.row_offsets[1].item() | by_hand
