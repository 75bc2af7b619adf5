"""The hashgrid targets of issue 25, each measured as a user runs it, and the image comparison at equal CPU time.

``python bench/hashgrid_targets.py`` runs, one at a time, with the machine's load (``uptime``) printed
before and after each:

- ``image-512``: ``pinr solve image --backbone hashgrid --set size=512`` (camera); target ≥ 40 dB
  within 3 minutes of training;
- ``image-2048``: a 2048² image (camera) with the hashgrid backbone at the case's defaults; target
  ≥ 35 dB within 15 minutes;
- ``mesh-sdf`` (with ``--mesh PATH``, e.g. the Stanford bunny's 28k-vertex scan, ``bunny.obj`` in
  the pymeshlab wheel's ``pymeshlab/tests/sample_meshes``): ``pinr solve eikonal-sdf --set
  shape=PATH`` at the defaults (``--kernel`` forces the hash grid's interpolation); target IoU ≥
  0.97, Chamfer ≤ 2e-3 (normalised box) within 10 minutes;
- ``mesh-compare`` (with ``--mesh PATH``): the SDF by SIREN's eikonal loss and by the regression on
  exact distances, each with SIREN (the 3-D defaults before) and the hash grid, at the same
  training time (``--mesh-seconds``; steps from two probes each, 5 and 15 steps);
- ``poisson``: ``poisson-image`` (camera 96²) from its gradient and from its Laplacian, SIREN at the
  case's defaults and the hash grid with smooth and linear kernels at about the same time;
- ``suite`` (``--suite NAMES``): suite cases at pinr's defaults and with the hash grid (cubic,
  softplus, Adam) for 2000 steps;
- ``media``: ``audio`` and ``video`` at their SIREN defaults and with the hash grid at equal time;
- ``radiance``: ``pinr solve nerf`` at the defaults on pinr's scene and on a Blender-layout dataset of
  another scene (target ≥ 28 dB within 10 minutes), and NeRF's MLP at the defaults before (``--no-mlp``
  skips it);
- ``--compare SIZE``: the image case at ``SIZE`` (camera) with its SIREN defaults and with
  hashgrid, side by side at the same training time (``--seconds``; each backbone's steps are
  set from the ms/step of a 3-step probe run just before): PSNR reached.

``--quick`` runs every row tiny (32² and 64² images, a few steps, a sphere for the mesh), in seconds;
the test suite does not run it, so that it stays a benchmark. ``--threads N`` sets the CPU threads
(default 1: on a loaded machine two threads contend; say so with the figures). The table prints
train seconds from each run's own metrics (evaluation and set-up excluded) and whether the target
was met; targets are for a quiet 2-core CPU, one run at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pinr as pr


def load() -> str:
    """The 1-minute load average, as ``uptime`` prints it."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1].strip()


def run(case, out: Path, **options) -> dict:
    """Solve ``case`` into ``out``; its metrics.json plus the PSNR against the case's reference."""
    pr.solve(case, out=out, progress=False, **options)
    return json.loads((out / "metrics.json").read_text())


def image_row(name: str, size: int, steps, seconds: float, floor: float, threads: int, work: Path) -> dict:
    case = pr.problems.get("image", size=size)
    options = {"threads": threads} | ({"steps": steps} if steps else {})
    before = load()
    m = run(case, work / name, backbone="hashgrid", **options)
    return {
        "row": name,
        "psnr": m.get("psnr"),
        "train_s": m.get("train_seconds"),
        "steps": m.get("steps"),
        "target": f">= {floor} dB in <= {seconds:g} s",
        "met": bool(m.get("psnr", 0) >= floor and m.get("train_seconds", 1e9) <= seconds),
        "load": f"{before} -> {load()}",
    }


def mesh_row(mesh: str, kernel, steps, threads: int, work: Path, quick: bool = False) -> dict:
    """``pinr solve eikonal-sdf --set shape=MESH`` at the case's defaults (``kernel`` forces the
    hash grid's interpolation)."""
    case = pr.problems.get("eikonal-sdf", shape=mesh)
    options = {"threads": threads} | ({"steps": steps} if steps else {})
    backbone = ({"interpolation": kernel} if kernel else {}) | (
        {"levels": 4, "log2_table": 12, "max_resolution": 64} if quick else {})
    if quick:
        options["batch"] = 256
    before = load()
    m = run(case, work / "sdf-defaults", **options, **({"backbone_options": backbone} if backbone else {}))
    iou, chamfer = m.get("iou"), m.get("chamfer")
    met = iou is not None and chamfer is not None and iou >= 0.97 and chamfer <= 2e-3 and m["train_seconds"] <= 600
    return {
        "row": f"mesh-sdf ({m.get('backbone')}{', ' + kernel if kernel else ''})",
        "iou": iou,
        "chamfer": chamfer,
        "rel_l2": m.get("rel_l2"),
        "eikonal_residual": m.get("eikonal_residual"),
        "train_s": m.get("train_seconds"),
        "steps": m.get("steps"),
        "target": "IoU >= 0.97, Chamfer <= 2e-3 in <= 600 s",
        "met": met,
        "load": f"{before} -> {load()}",
    }


def mesh_compare(mesh: str, seconds: float, threads: int, work: Path, probe_steps: int = 5,
                 modes=("eikonal", "supervised")) -> list[dict]:
    """The SDF of ``mesh`` by each mode (SIREN's eikonal loss, the regression on exact distances)
    and backbone (SIREN 256 × 3 at ω 10 and lr 1e-3, the 3-D eikonal defaults before the hash grid;
    the hash grid of the supervised defaults), each trained for about ``seconds`` (validation only at
    the end)."""
    siren = {"backbone": "siren", "lr": 1e-3,
             "backbone_options": {"width": 256, "depth": 3, "omega0": 10.0, "omega_hidden": 10.0}}
    hashgrid = {"backbone": "hashgrid", "lr": 1e-2, "backbone_options": {"max_resolution": 512}}
    rows = []
    for mode in modes:
        case = pr.problems.get("eikonal-sdf", shape=mesh, mode=mode)
        for label, options in (("siren", siren), ("hashgrid", hashgrid)):
            options = options | {"threads": threads, "batch": 256 if seconds < 10 else 8192, "validate_every": 10**9}
            # the step's cost from two probes after a warm-up that fills the case's caches (a mesh's pool of
            # distances): 3 × probe_steps less probe_steps, so that set-up and first steps cancel
            run(case, work / f"warm-{mode}-{label}", steps=1, **options)
            short, long = (run(case, work / f"probe-{mode}-{label}-{n}", steps=n, **options)["train_seconds"]
                           for n in (probe_steps, 3 * probe_steps))
            per_step = max(long - short, 0.1 * long) / (2 * probe_steps)
            steps = max(1, int(seconds / per_step))
            before = load()
            m = run(case, work / f"sdf-{mode}-{label}", steps=steps, **options)
            rows.append({"row": f"mesh {mode} {label}", "iou": m.get("iou"), "chamfer": m.get("chamfer"),
                         "rel_l2": m.get("rel_l2"), "eikonal_residual": m.get("eikonal_residual"),
                         "train_s": m.get("train_seconds"), "steps": steps, "ms_per_step": round(1e3 * per_step, 1),
                         "load": f"{before} -> {load()}"})
    return rows


def compare(size: int, seconds: float, threads: int, work: Path, probe_steps: int = 3) -> list[dict]:
    """The image case at ``size``: SIREN (its defaults before hashgrid) and hashgrid (the case's
    defaults), each trained for about ``seconds``."""
    case = pr.problems.get("image", size=size)
    rows = []
    siren = {"backbone": "siren", "lr": 1e-4}  # SIREN's image defaults: 256 × 3 sine layers, lr 1e-4, every pixel
    hashgrid = {"backbone": "hashgrid"}
    for label, options in (("siren", siren), ("hashgrid", hashgrid)):
        probe = run(case, work / f"probe-{label}", steps=probe_steps, threads=threads, **options)
        per_step = probe["train_seconds"] / probe_steps
        steps = max(1, int(seconds / per_step))
        before = load()
        m = run(case, work / f"cmp-{label}", steps=steps, threads=threads, **options)
        rows.append(
            {
                "row": f"image {size}² {label}",
                "psnr": m.get("psnr"),
                "ssim": m.get("ssim"),
                "train_s": m.get("train_seconds"),
                "steps": steps,
                "ms_per_step": round(1e3 * per_step, 1),
                "load": f"{before} -> {load()}",
            }
        )
    return rows


def media_compare(seconds: float, threads: int, work: Path, quick: bool = False) -> list[dict]:
    """The ``audio`` and ``video`` cases at their SIREN defaults and with the hash grid (finest level at
    the signal's own sample spacing: every sample of the clip, 128 for 64² frames; 2^19 rows, lr
    1e-2), each trained for about ``seconds`` (steps from a probe of 3 steps after one)."""
    from pinr.problems.media import load_audio

    samples = len(load_audio("house", seconds=0.05 if quick else 1.0)[0])
    cases = {"audio": ({"seconds": 0.05} if quick else {}, {"max_resolution": samples, "base_resolution": 16}),
             "video": ({"frames": 2, "size": 16} if quick else {}, {"max_resolution": 128})}
    rows = []
    for name, (params, grid) in cases.items():
        case = pr.problems.get(name, **params)
        for label, options in (("siren", {}), ("hashgrid", {"backbone": "hashgrid", "lr": 1e-2,
                                                            "backbone_options": grid})):
            run(case, work / f"{name}-warm-{label}", steps=1, threads=threads, **options)
            probe = run(case, work / f"{name}-probe-{label}", steps=3, threads=threads, **options)
            per_step = probe["train_seconds"] / 3
            steps = max(1, int(seconds / per_step))
            before = load()
            m = run(case, work / f"{name}-{label}", steps=steps, threads=threads, **options)
            rows.append({"row": f"{name} {label}", "psnr": m.get("psnr"), "ssim": m.get("ssim"),
                         "train_s": m.get("train_seconds"), "steps": steps, "ms_per_step": round(1e3 * per_step, 1),
                         "load": f"{before} -> {load()}"})
    return rows


#: the hash grid as a PDE backbone on the suite: C² kernel, smooth activation, Adam (natural-gradient
#: steps cannot afford its 2^16-row tables)
SUITE_GRID = {"backbone": "hashgrid", "optimizer": "adam", "lr": 1e-2,
              "backbone_options": {"levels": 8, "base_resolution": 4, "max_resolution": 64, "log2_table": 16,
                                   "interpolation": "cubic", "activation": "softplus", "init_scale": 0.1}}


def suite_rows(names, quick: bool = False) -> list[dict]:
    """Suite cases (``pinr bench suite``) at pinr's defaults and with :data:`SUITE_GRID` for 2000 steps,
    one after the other; relative L2 on each case's grid."""
    from pinr.bench.suite import CASES, _run_pinr

    rows = []
    for name in names:
        st = CASES[name].build()
        for label, options in (("defaults", {}), ("hashgrid cubic", dict(SUITE_GRID, steps=20 if quick else 2000))):
            before = load()
            r = _run_pinr(CASES[name], st, quick, **options)
            rows.append({"row": f"suite {name} {label}", "rel_l2": r.rel_l2, "train_s": round(r.seconds, 1),
                         "steps": r.steps, "met": r.trusted, "load": f"{before} -> {load()}"})
    return rows


#: the Poisson-image rows: (mode, backbone, kernel, steps); the hash grid's steps give about SIREN's time
POISSON_ROWS = (("gradient", "siren", None, 400), ("gradient", "hashgrid", "cubic", 500),
                ("gradient", "hashgrid", "linear", 1100), ("laplacian", "siren", None, 400),
                ("laplacian", "hashgrid", "cubic", 1250), ("laplacian", "hashgrid", "smoothstep", 2200))


def poisson_rows(threads: int, work: Path, quick: bool = False) -> list[dict]:
    """``poisson-image`` (camera 96²) at its SIREN defaults and with the hash grid as the PDE backbone
    (8 levels × 2 features, 16 → 96, 2^16 rows, softplus MLP, smooth or linear kernel)."""
    rows = []
    for mode, backbone, kernel, steps in POISSON_ROWS:
        case = pr.problems.get("poisson-image", mode=mode, size=24 if quick else 96)
        options = {"threads": threads, "validate_every": 10**9, "steps": 3 if quick else steps}
        if backbone == "hashgrid":
            options |= {"backbone": "hashgrid", "backbone_options": {
                "interpolation": kernel, "levels": 8, "log2_table": 16, "max_resolution": 96, "activation": "softplus"}}
        before = load()
        m = run(case, work / f"poisson-{mode}-{backbone}-{kernel}", **options)
        rows.append({"row": f"poisson-image {mode} {backbone}{' ' + kernel if kernel else ''}", "psnr": m.get("psnr"),
                     "rel_l2": m.get("rel_l2"), "train_s": m.get("train_seconds"), "steps": m.get("steps"),
                     "load": f"{before} -> {load()}"})
    return rows


def still_life():
    """A second scene for the Blender-layout row: six solids on a table top, none of them the
    ``nerf`` case's own."""
    from pinr.render import scene as S

    return S.Scene((
        S.Box((0.0, 0.0, -0.75), (0.9, 0.9, 0.08), rounding=0.03, albedo=(0.55, 0.5, 0.45)),
        S.Box((-0.35, -0.25, -0.45), (0.22, 0.22, 0.22), rounding=0.05, albedo=(0.2, 0.6, 0.8)),
        S.Sphere((0.35, -0.3, -0.4), 0.27, albedo=(0.9, 0.5, 0.1)),
        S.Cylinder((0.3, 0.4, -0.67), (0.3, 0.4, 0.2), 0.16, albedo=(0.8, 0.15, 0.4)),
        S.Torus((-0.35, 0.4, -0.55), 0.25, 0.08, axis=(0.0, 0.0, 1.0), albedo=(0.3, 0.8, 0.3)),
        S.Capsule((-0.6, -0.6, -0.6), (0.6, 0.6, 0.5), 0.07, albedo=(0.95, 0.9, 0.3)),
    ))


def blender_dataset(directory: Path, size: int) -> Path:
    """:func:`still_life` rendered at ``size``² (100 training views on the hemisphere, 8 held out on a
    turntable) and written in the Blender layout, RGBA pictures and ``transforms_*.json``."""
    from pinr.render import synthetic_views
    from pinr.render.data import write_blender

    views = synthetic_views(still_life(), size=size, n_train=100, n_test=8)
    return write_blender(directory, {"train": views["train"], "test": views["test"]})


def radiance_rows(threads: int, work: Path, quick: bool = False, mlp: bool = True) -> list[dict]:
    """``pinr solve nerf`` at the defaults, on pinr's scene and on a Blender-layout dataset of another
    scene (``--set data=DIR``, rendered at 128² and read at the case's 64²); target ≥ 28 dB held out
    within 10 minutes of training. With ``mlp``, also the scene with NeRF's MLP at the defaults before
    the hash grid (3000 steps at 2e-3), validated every 250 steps so that its held-out PSNR (two views)
    can be read at the hash grid's training time."""
    small = {"size": 12, "views": 8, "test_views": 2, "samples": 16, "occupancy": 16} if quick else {}
    steps = {"steps": 20} if quick else {}
    data = blender_dataset(work / "still-life", 24 if quick else 128)
    runs = [("nerf", {}, {}), ("nerf-blender", {"data": str(data)}, {})]
    if mlp:
        runs.append(("nerf-mlp (before)", {}, {"backbone": "nerf", "lr": 2e-3, "validate_every": 5 if quick else 250,
                                                **({} if quick else {"steps": 3000})}))
    rows = []
    for name, params, options in runs:
        case = pr.problems.get("nerf", **params, **small)
        before = load()
        m = run(case, work / name.split()[0], threads=threads, **steps, **options)
        psnr, seconds = m.get("psnr"), m.get("train_seconds")
        curve = work / name.split()[0] / "validation.csv"  # (step, seconds, PSNR of two held-out views)
        rows.append({"row": f"{name} ({m.get('backbone')})", "psnr": psnr, "ssim": m.get("ssim"), "train_s": seconds,
                     "steps": m.get("steps"), "target": ">= 28 dB in <= 600 s",
                     "met": bool(psnr is not None and psnr >= 28 and seconds <= 600), "load": f"{before} -> {load()}",
                     "curve": curve.read_text() if curve.is_file() else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps, seconds in all")
    parser.add_argument("--only", nargs="*", default=None,
                        help="rows to run: image-512 image-2048 mesh-sdf mesh-compare poisson suite compare media "
                             "radiance")
    parser.add_argument("--mesh", default=None, help="a scanned mesh (.obj/.ply/.stl/.off) for the SDF row")
    parser.add_argument("--kernel", default=None, help="force the hash grid's interpolation in the SDF row")
    parser.add_argument("--mesh-modes", nargs="*", default=["eikonal", "supervised"], help="modes in mesh-compare")
    parser.add_argument("--mesh-seconds", type=float, default=165.0, help="training seconds each in mesh-compare")
    parser.add_argument("--compare", type=int, default=256, help="image size of the equal-time comparison")
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds each in the comparison")
    parser.add_argument("--no-mlp", action="store_true", help="radiance: skip NeRF's MLP (the defaults before)")
    parser.add_argument("--media-seconds", type=float, default=60.0, help="training seconds each in media")
    parser.add_argument("--suite", nargs="*", default=["poisson-2d", "helmholtz-2d"], help="suite cases in suite")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    only = set(args.only) if args.only is not None else {"image-512", "image-2048", "mesh-sdf", "compare"}
    q = args.quick
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "image-512" in only:
            rows.append(image_row("image-512", 32 if q else 512, 20 if q else None, 180.0, 40.0, args.threads, work))
        if "image-2048" in only:
            rows.append(image_row("image-2048", 64 if q else 2048, 10 if q else None, 900.0, 35.0, args.threads, work))
        if "mesh-sdf" in only:
            if args.mesh or q:
                rows.append(mesh_row(args.mesh or "sphere", args.kernel, 5 if q else None, args.threads, work, q))
            else:
                print("mesh-sdf: skipped (give --mesh PATH, e.g. the Stanford bunny)")
        if "mesh-compare" in only:
            if args.mesh or q:
                rows += mesh_compare(args.mesh or "sphere", 2.0 if q else args.mesh_seconds, args.threads, work,
                                     probe_steps=1 if q else 5, modes=args.mesh_modes)
            else:
                print("mesh-compare: skipped (give --mesh PATH)")
        if "poisson" in only:
            rows += poisson_rows(args.threads, work, q)
        if "suite" in only:
            rows += suite_rows(args.suite, q)
        if "media" in only:
            rows += media_compare(2.0 if q else args.media_seconds, args.threads, work, q)
        if "radiance" in only:
            rows += radiance_rows(args.threads, work, q, mlp=not args.no_mlp)
        if "compare" in only:
            rows += compare(
                32 if q else args.compare, 2.0 if q else args.seconds, args.threads, work, probe_steps=1 if q else 3
            )
    print(f"\nhashgrid targets — threads {args.threads}, cpu count {os.cpu_count()}, {time.strftime('%Y-%m-%d %H:%M')}")
    keys = ["row", "psnr", "ssim", "iou", "chamfer", "rel_l2", "eikonal_residual", "train_s", "steps", "ms_per_step",
            "target", "met", "load"]
    keys = [k for k in keys if any(k in r for r in rows)]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [r.get(k, "") for k in keys]
        print("| " + " | ".join(f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
