r"""Image-fitting quality benchmark: every backbone at ≈200k parameters on bundled real images.

Methods
-------
Problem
    ``pr.problems.get("image", image=..., size=...)``: :math:`u(x, y) = I(x, y)` on the pixel
    grid of :math:`[-1, 1]^2`, intensities in :math:`[-1, 1]`, RGB or gray.
Protocols
    ``full``: train on every pixel each step (full batch). ``sape25``: SAPE's protocol — train
    on a fixed random 25 % of the pixels, evaluate on all of them.
Backbones
    Each at ≈200k parameters through its width (:data:`CONFIGS`; the count is printed), with
    the peak learning rate the backbone itself recommends (its paper's or official code's,
    :func:`~pinr.backbones.backbone_training`; ``--lr NAME=LR`` overrides); Adam with a cosine
    decay to 1e-6 (pinr's :class:`~pinr.solvers.PINNSolver`, so the library's own training
    step is what is timed).
Metrics
    Every ``steps/20`` steps the prediction on the whole grid, clipped to :math:`[-1, 1]`, is
    scored: PSNR with data range 2 (= the usual PSNR of the :math:`[0, 1]` image) and SSIM
    (7×7 window, channels averaged). Reported: the best PSNR, the SSIM at that evaluation, the
    final PSNR, and ms per training step (evaluation time excluded).

Run
---
``pinr bench quality --quick`` (CPU, seconds: tiny images and steps, the
≈200k-parameter networks), ``pinr bench quality --device cuda`` (astronaut,
camera, coffee at 512², 5000 steps, both protocols); ``python bench/quality_images.py`` takes
the same arguments. ``--write PATH`` appends the table to a markdown file (the repository's
is ``bench/RESULTS.md``); ``--plots DIR`` writes PINs' level-of-detail reconstructions and SAPE's
mask maps. Reference points (re-implementations of the official code, H100, astronaut, 5k
steps): FINER 42.17, SCONE 40.39 dB (25.6 ms/step), SIREN 38.52 dB (12.3 ms/step), FFN 38.06,
WIRE 30.97 dB.

Floor: the bench wing (above the api, below the cli).
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import pinr as pr
from pinr.backbones import backbone_training
from pinr.domains.base import AbstractPointSet, Samples
from pinr.io import write_text
from pinr.metrics import ssim
from pinr.problems.regression import grid_to_image
from pinr.solvers import PINNSolver

#: Per backbone: options giving ≈200k parameters for 2-D → RGB (a backbone not listed keeps its
#: defaults). The learning rate is the backbone's own (:func:`learning_rate`). SAPE's epsilon
#: is set per image (see :func:`sape_epsilon`).
CONFIGS: dict[str, dict] = {
    "siren": dict(width=256, depth=3),
    "scone": dict(),  # width 250, omegas 90/60/30/10
    "finer": dict(),
    "wire": dict(),  # omega0 20, sigma0 10
    "gauss": dict(),  # scale 30, as compared in FINER
    "ff": dict(m=128, sigma=10.0),  # SCONE's Gaussian-RFF baseline
    "sape": dict(width=210),
    "pins": dict(width=154, progressive=True),
    "mlp": dict(width=300, depth=3, activation="relu", encoding_levels=10),
}


def learning_rate(name: str, override: float | None = None) -> float:
    """Peak Adam rate :func:`fit` trains backbone ``name`` with: ``override`` when given, else the
    backbone's recommended one (:func:`~pinr.backbones.backbone_training`)."""
    return float(override) if override is not None else backbone_training(name).lr


def sape_epsilon(channels: int) -> float:
    """SAPE's 1e-3 on the channel-mean MSE of [0, 1] intensities, in units of the solver's
    per-point loss (sum over channels of squared residuals of [-1, 1] intensities)."""
    return 1e-3 * channels * 4.0


class FixedPixels(AbstractPointSet):
    """A fixed subset of a grid's cell centres; every step trains on all of them."""

    name = "pixels"
    default_method = "grid"

    def __init__(self, grid, points: torch.Tensor):
        self.domain, self.points = grid, points
        self._cache: dict = {}

    def _sample(self, n, *, method, generator, dtype, device):
        key = (dtype, device)
        if key not in self._cache:
            self._cache[key] = self.points.to(dtype=dtype, device=device)
        return Samples(self._cache[key])


def subset_problem(problem, fraction: float, seed: int = 0):
    """``problem`` (an image fit) trained on a fixed random ``fraction`` of its pixels; the
    exact solution, and so the evaluation, still covers every pixel."""
    grid = problem.domain
    points = grid.points(dtype=torch.float64)
    keep = torch.randperm(points.shape[0], generator=torch.Generator().manual_seed(seed))
    region = FixedPixels(grid, points[keep[: max(1, int(fraction * points.shape[0]))]])
    (condition,) = problem.conditions
    return pr.Problem(grid, conditions=[pr.Condition(condition.eq, on=region, name="pixels")],
                      exact=problem.exact, image=True, name=f"{problem.name}-{int(round(100 * fraction))}%",
                      description=problem.description)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(network, grid, target: np.ndarray) -> dict[str, float]:
    """Clipped prediction on every pixel vs ``target`` ``(*grid.shape, C)`` in [-1, 1]."""
    param = next(network.parameters())
    points = grid.points(dtype=param.dtype, device=param.device)
    with torch.no_grad():
        pred = torch.cat([network(chunk) for chunk in torch.split(points, 131072)])
    pred = pred.clamp(-1.0, 1.0).double().cpu().numpy().reshape(target.shape)
    mse = float(np.mean((pred - target) ** 2))
    psnr = 10.0 * math.log10(4.0 / mse) if mse > 0 else math.inf
    a, b = grid_to_image(pred), grid_to_image(target)
    if a.shape[-1] == 1:
        value = ssim(a[..., 0], b[..., 0], data_range=2.0)
    else:
        value = ssim(a, b, data_range=2.0, channel_axis=-1)
    return {"psnr": psnr, "ssim": value}


def fit(problem, target, name: str, *, steps: int, device, seed: int, evals: int, tf32: bool, compile,
        plots: Path | None, tag: str, lr: float | None = None) -> dict:
    """Train backbone ``name`` on ``problem`` with :data:`CONFIGS`' options at :func:`learning_rate`
    (``lr`` overrides the backbone's own); returns the table row."""
    lr = learning_rate(name, lr)
    options = dict(CONFIGS.get(name, {}))
    channels = problem.n_outputs
    if name == "sape":
        options.setdefault("epsilon", sape_epsilon(channels))
        options.setdefault("res", min(128, max(problem.domain.shape)))  # 128², or the image's own
    grid = problem.domain
    evaluations: list[tuple[int, float, dict]] = []

    def validate(solution) -> dict:  # the solver's validate_metrics hook, at its validation steps
        _sync(solver.device)
        start = time.perf_counter()
        metrics = evaluate(solution.network, grid, target)
        _sync(solver.device)
        evaluations.append((solver.state.step, time.perf_counter() - start, metrics))
        return {}  # nothing for the solver to print

    # every training pixel each step: grid terms take the full grid, FixedPixels all its pixels
    solver = PINNSolver.from_options(problem, backbone=name, backbone_options=options, steps=steps, lr=lr,
                                     lr_min=1e-6, device=device, seed=seed,
                                     validate_every=max(1, steps // evals), validate_metrics=validate,
                                     tf32=tf32, compile=compile, progress=False)
    solution = solver.run()
    history = solver.history
    first, last = history["step"][0], history["step"][-1]
    spent = history["seconds"][-1] - history["seconds"][0]
    spent -= sum(dt for step, dt, _ in evaluations if first < step <= last)
    ms_per_step = 1e3 * spent / max(1, last - first)
    best_step, _, best = max(evaluations, key=lambda e: e[2]["psnr"])
    params = sum(p.numel() for p in solver.network.parameters())
    if plots is not None:
        from pinr.backbones.pins import plot_levels
        from pinr.backbones.sape import plot_masks

        if name == "pins":
            plot_levels(solution.network, solution.grid, plots / f"pins_levels_{tag}.png", image=solution.problem.image)
        if name == "sape":
            plot_masks(solution.network, plots / f"sape_masks_{tag}.png")
    return dict(backbone=name, params=params, lr=lr, psnr=best["psnr"], ssim=best["ssim"],
                best_step=best_step, final_psnr=evaluations[-1][2]["psnr"], ms=ms_per_step,
                device=device_name(solver.device))


def device_name(device: torch.device) -> str:
    """The device in words for a benchmark table (the GPU's name, or the CPU and its threads)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu, {n} thread{'s' if n != 1 else ''}"


def format_table(rows: list[dict]) -> str:
    head = ("| image | protocol | backbone | params | lr | best PSNR (dB) | SSIM | final PSNR | step of best "
            "| ms/step | device |")
    lines = [head, "|" + "|".join(["---"] * 11) + "|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['protocol']} | {r['backbone']} | {r['params']:,} | {r['lr']:g} "
                     f"| {r['psnr']:.2f} | {r['ssim']:.4f} | {r['final_psnr']:.2f} | {r['best_step']} "
                     f"| {r['ms']:.1f} | {r['device']} |")
    return "\n".join(lines)


def speed_ratios(rows: list[dict]) -> list[str]:
    """SCONE's ms/step over SIREN's, per image and protocol (target: at most 1.5)."""
    out = []
    for r in rows:
        if r["backbone"] != "scone":
            continue
        siren = [s for s in rows
                 if s["backbone"] == "siren" and (s["image"], s["protocol"]) == (r["image"], r["protocol"])]
        if siren:
            out.append(f"{r['image']} / {r['protocol']}: SCONE/SIREN ms per step = {r['ms'] / siren[0]['ms']:.2f}")
    return out


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the benchmark with command-line arguments ``argv`` (``sys.argv[1:]`` when ``None``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps (CPU, seconds)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--images", nargs="+", default=None,
                        help="bundled image names (default astronaut camera coffee)")
    parser.add_argument("--backbones", nargs="+", default=None, help="default: every registered backbone")
    parser.add_argument("--protocols", nargs="+", default=["full", "sape25"], choices=["full", "sape25"])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 5000; quick 10)")
    parser.add_argument("--size", type=int, default=None, help="image side (default 512; quick 16)")
    parser.add_argument("--evals", type=int, default=None, help="evaluations per run, best PSNR over them "
                        "(default 20; quick 2)")
    parser.add_argument("--compile", default=None, choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile the solver's loss with this mode (default: eager)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on CUDA (default off: fp32)")
    parser.add_argument("--plots", type=Path, default=None, help="directory for PINs level and SAPE mask plots")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's own; quick: 1, fastest for tiny networks)")
    parser.add_argument("--lr", nargs="+", default=[], metavar="NAME=LR",
                        help="learning-rate overrides, e.g. --lr scone=3e-4 wire=5e-3")
    parser.add_argument("--write", type=Path, default=None, metavar="PATH",
                        help="append the table to this markdown file (e.g. bench/RESULTS.md)")
    args = parser.parse_args(argv)

    images = args.images or (["astronaut"] if args.quick else ["astronaut", "camera", "coffee"])
    steps = args.steps or (10 if args.quick else 5000)
    size = args.size or (16 if args.quick else 512)
    evals = args.evals or (2 if args.quick else 20)
    threads = args.threads or (1 if args.quick else None)
    if threads:
        torch.set_num_threads(threads)
    backbones = args.backbones or pr.available_backbones()
    try:
        lrs = {k: float(v) for k, v in (item.split("=", 1) for item in args.lr)}
    except ValueError:
        parser.error(f"--lr takes NAME=LR pairs, got {args.lr}")
    if args.plots is not None:
        args.plots.mkdir(parents=True, exist_ok=True)
    rows = []
    for image in images:
        full = pr.problems.get("image", image=image, size=size).problem
        target = pr.reference(full).on_grid()
        for protocol in args.protocols:
            problem = full if protocol == "full" else subset_problem(full, 0.25, seed=args.seed)
            for name in backbones:
                row = fit(problem, target, name, steps=steps, device=args.device, seed=args.seed, evals=evals,
                          tf32=args.tf32, compile=args.compile or False, plots=args.plots, tag=f"{image}_{protocol}",
                          lr=lrs.get(name))
                row.update(image=image, protocol=protocol)
                rows.append(row)
                print(f"{image:>10} {protocol:>6} {name:>6}: {row['params']:>8,} params  PSNR {row['psnr']:6.2f}  "
                      f"SSIM {row['ssim']:.4f}  {row['ms']:7.1f} ms/step", flush=True)
    table = format_table(rows)
    ratios = speed_ratios(rows)
    settings = (f"{steps} steps, {size}² images, protocols {', '.join(args.protocols)}, seed {args.seed}, "
                f"{'torch.compile ' + args.compile if args.compile else 'eager'}, {'TF32' if args.tf32 else 'fp32'}, "
                f"torch {torch.__version__}, python {platform.python_version()}"
                + (", quick mode" if args.quick else ""))
    print()
    print(table)
    print()
    for line in ratios:
        print(line)
    if args.write is not None:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        target = Path(args.write)
        before = target.read_text(encoding="utf-8") if target.exists() else ""
        section = (f"\n## Image-fitting quality ({stamp})\n\n`pinr bench quality "
                   f"{' '.join(sys.argv[1:] if argv is None else argv)}` — {settings}.\n\n{table}\n\n"
                   + "".join(f"- {line}\n" for line in ratios))
        write_text(target, before + section)  # appended by rewriting atomically, like every pinr file
        print(f"appended to {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
