r"""Radiance-field benchmark: fields and representations side by side on pinr's synthetic scene.

Two comparisons, each run in one process, one after the other, on the same data and device:

- **fields** — the ``nerf`` case (hemisphere of views, occupancy grid) with different backbones
  as the field: ``ngp`` (Instant-NGP's hash grid, view-dependent; the case's own), ``nerf``
  (NeRF's MLP, view-dependent), ``siren`` and ``ff`` (position only);
- **multiplane** — forward-facing views: ``nex`` (multiplane image + neural basis) against the
  ``nerf`` case on the same pictures (``rig="forward"``).

Each run trains for the same number of steps (the cases' default, 3000, unless ``steps`` is
given) at the learning rate the case states for its own field and the backbone's recommended one
for the others, and reports held-out PSNR / SSIM, training seconds, ms per step and rays per
second. ``pinr bench radiance`` is the command.

Floor: the bench wing (above the api, below the cli); the render engine (:mod:`pinr.render`) it
measures imports nothing from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["RadianceRecord", "run_radiance_bench", "format_radiance_table", "COMPARISONS"]

#: comparison → (case name, case parameters, backbones)
COMPARISONS = {
    "fields": ("nerf", {}, ("ngp", "nerf", "siren", "ff")),
    "multiplane": (None, {"views": 25}, ("nex", "nerf")),
}


#: small fields for ``quick`` (the others: width 32, depth 2)
QUICK_OPTIONS = {"ngp": {"levels": 4, "log2_table": 12, "max_resolution": 32, "width": 16}}


@dataclass(frozen=True)
class RadianceRecord:
    comparison: str
    case: str
    backbone: str
    lr: float
    steps: int
    psnr: float
    ssim: float
    seconds: float
    ms_per_step: float
    rays_per_second: float
    device: str


def run_radiance_bench(comparisons=tuple(COMPARISONS), *, steps: int | None = None, size: int | None = None,
                       device=None, seed: int = 0, quick: bool = False, echo=print) -> list[RadianceRecord]:
    """Run ``comparisons`` (names in :data:`COMPARISONS`); ``quick`` is a tiny version (12² pictures,
    a few views, 20 steps, small fields) for tests."""
    import pinr as pr
    from pinr.backbones import backbone_training
    from pinr.render.evaluate import render_held_out
    from pinr.solvers.pinn import resolve_device

    from .quality import device_name

    unknown = sorted(set(comparisons) - set(COMPARISONS))
    if unknown:
        raise ValueError(f"unknown radiance comparison {unknown}; choose from {sorted(COMPARISONS)}")
    dev = resolve_device(device)
    records = []
    for name in comparisons:
        case_name, params, backbones = COMPARISONS[name]
        params = dict(params)
        if size is not None:
            params["size"] = size
        if quick:
            params.update(size=12, views=6, test_views=2)
        for backbone in backbones:
            this = case_name or backbone  # the multiplane comparison runs each field's own case
            kw = dict(params, **({"rig": "forward"} if name == "multiplane" and this == "nerf" else {}))
            if quick and this == "nerf":
                kw.update(samples=16, occupancy=16 if name == "fields" else 0)
            if quick and this == "nex":
                kw.update(planes=8)
            case = pr.problems.get(this, **kw)
            own = case.training.model.backbone == backbone
            lr = case.training.optim.lr if own else backbone_training(backbone).lr
            options = (QUICK_OPTIONS.get(backbone, {"width": 32, "depth": 2})) if quick else {}
            n = 20 if quick and steps is None else steps or case.training.optim.steps
            echo(f"[{name}] {this} with the {backbone} field: {n} steps at lr {lr:g} on {dev}")
            t0 = time.perf_counter()
            sol = pr.solve(case, backbone=backbone, backbone_options=options, steps=n, lr=lr, seed=seed,
                           device=str(dev), progress=not quick)
            seconds = float(sol.metadata.get("seconds", time.perf_counter() - t0))
            obs = case.problem.observations[0]
            scores = render_held_out(sol, obs, ssim=True)
            batch = case.training.sampling.batch or 1024
            records.append(RadianceRecord(name, this + ("-forward" if kw.get("rig") == "forward" else ""), backbone,
                                          lr, n, scores["psnr"], scores["ssim"], seconds, 1e3 * seconds / max(n, 1),
                                          batch * n / max(seconds, 1e-9), device_name(dev)))
            echo(f"  PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}, {seconds:.1f} s")
    return records


def format_radiance_table(records: list[RadianceRecord]) -> str:
    """A markdown table of ``records``."""
    lines = ["| comparison | case | field | lr | steps | held-out PSNR (dB) | SSIM | train s | ms/step | rays/s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r.comparison} | {r.case} | {r.backbone} | {r.lr:g} | {r.steps} | {r.psnr:.2f} | {r.ssim:.4f} "
                     f"| {r.seconds:.1f} | {r.ms_per_step:.1f} | {r.rays_per_second:.3g} |")
    if records:
        lines.append(f"\nDevice: {records[0].device}.")
    return "\n".join(lines)
