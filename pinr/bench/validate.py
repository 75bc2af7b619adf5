r"""``pinr validate``: every problem × backbone, trained and compared with its reference.

For each catalogue case the reference is built once — the case's own (``Case.reference``,
e.g. the analytic Helmholtz field), else its exact solution, else the FD lowering of the
statement — then each backbone is trained with the case's defaults (``steps`` overrides) and
measured with the case's metric (``Case.metrics``, e.g. complex relative L2 on Helmholtz's
inner box), else :func:`pinr.compare`. One record per run:

``problem, backbone, steps, seconds (training), ms_per_step, rel_l2, max_abs, psnr, device,
engine, reference (its kind), reference_seconds, verdict`` (the run's own verdict, which the
reference informs: "trusted" or "NOT trusted"), ``error`` (the message when a run failed; the
other runs go on).

Floor: the bench wing (above the api, below the cli).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pinr.io import atomic_write, write_json

__all__ = ["run_validate", "format_table", "format_markdown"]

log = logging.getLogger(__name__)

COLUMNS = ("problem", "backbone", "steps", "seconds", "rel_l2", "max_abs", "psnr", "reference", "verdict")


def _kind(ref) -> str:
    meta = getattr(ref, "metadata", None) or {}
    if meta.get("solver") == "fd":
        return f"fd-{meta.get('kind', '')}".rstrip("-")
    return type(ref).__name__


def _problem_params(names: Sequence[str], params: Mapping) -> dict[str, dict]:
    from pinr.problems import problem_params

    per = {n: {} for n in names}
    used = set()
    for n in names:
        valid = problem_params(n)
        for k, v in params.items():
            if k in valid:
                per[n][k] = v
                used.add(k)
    unused = sorted(set(params) - used)
    if unused:
        raise ValueError(f"--set {', '.join(unused)}: no selected problem ({', '.join(names)}) has such a parameter")
    return per


def run_validate(problems: Sequence[str] = (), backbones: Sequence[str] = (), steps: int | None = None,
                 device=None, json_path: str | Path | None = None, md_path: str | Path | None = None,
                 params: Mapping | None = None, *, backbone_options: Mapping | None = None, progress: bool = False,
                 echo=None) -> list[dict]:
    """Train each problem (all catalogue problems when empty) with each backbone (the problem's
    default when empty) and compare with its reference; write ``json_path`` and ``md_path`` when
    given and return the records. ``params`` are problem parameters (``--set``), each passed to
    the selected problems that have it; ``backbone_options`` override the backbones' options (``--option``).
    ``echo`` receives one line per finished run."""
    from pinr import compare, reference
    from pinr.problems import available_problems, get
    from pinr.problems.collections import COLLECTIONS
    from pinr.solvers import PINNSolver

    names = list(problems) or [n for n in available_problems() if n not in COLLECTIONS]
    if set(names) & set(COLLECTIONS):  # one network for many instances: no single reference to validate against
        raise ValueError(f"{sorted(set(names) & set(COLLECTIONS))} are collections; solve them with `pinr solve` "
                         "(metrics.json scores each instance)")
    unknown = [n for n in names if n not in available_problems()]
    if unknown:
        raise ValueError(f"unknown problem(s) {unknown}; available problems: {', '.join(available_problems())}")
    per = _problem_params(names, dict(params or {}))
    records: list[dict] = []
    for name in names:
        case = get(name, **per[name])
        t0 = time.perf_counter()
        try:
            ref = reference(case)
            ref_kind, ref_error = _kind(ref), None
        except NotImplementedError as err:
            ref, ref_kind, ref_error = None, "none", str(err)
        ref_seconds = time.perf_counter() - t0
        for backbone in list(backbones) or [case.training.model.backbone or "siren"]:
            rec = {"problem": name, "params": per[name], "backbone": backbone, "steps": None, "seconds": None,
                   "ms_per_step": None, "rel_l2": None, "max_abs": None, "psnr": None, "device": None,
                   "engine": None, "reference": ref_kind, "reference_seconds": round(ref_seconds, 3),
                   "verdict": None, "error": ref_error}
            try:
                solver = PINNSolver.from_options(case, backbone=backbone, backbone_options=backbone_options,
                                                 steps=steps, device=device, progress=progress, reference=ref)
                solution = solver.run()
                rec.update(steps=solver.steps, seconds=round(solver.seconds, 3),
                           ms_per_step=round(1000 * solver.seconds / max(solver.steps, 1), 3),
                           device=str(solver.device), engine=solver.engine.name,
                           verdict=None if solution.verdict is None else
                           "trusted" if solution.verdict.ok else "NOT trusted")
                if ref is not None:
                    m = compare(solution, ref, problem=case)
                    rec.update({k: v for k, v in m.items() if k not in rec or k in ("rel_l2", "max_abs", "psnr")})
            except (ValueError, TypeError, NotImplementedError, FloatingPointError, RuntimeError) as err:
                log.warning("validate %s/%s failed: %s", name, backbone, err)
                rec["error"] = f"{type(err).__name__}: {err}"
            records.append(rec)
            if echo is not None:
                echo(format_table([rec], header=not records[:-1]))
    if json_path is not None:
        write_json(json_path, records)
    if md_path is not None:
        text = format_markdown(records)
        atomic_write(md_path, lambda p: p.write_text(text))
    return records


def _fmt(key, v) -> str:
    if v is None:
        return "-"
    if key == "psnr":
        return f"{v:.2f}"
    if key in ("rel_l2", "max_abs"):
        return f"{v:.3e}"
    if key == "seconds":
        return f"{v:.1f}"
    return str(v)


def format_table(records: Sequence[Mapping], *, header: bool = True) -> str:
    """Fixed-width text table: problem, backbone, steps, seconds, rel_l2, max_abs, psnr, reference
    (and the error message of failed runs)."""
    widths = {"problem": 14, "backbone": 9, "steps": 6, "seconds": 8, "rel_l2": 10, "max_abs": 10, "psnr": 7,
              "reference": 18, "verdict": 11}
    lines = []
    if header:
        lines.append("  ".join(f"{c:<{widths[c]}}" for c in COLUMNS))
    for r in records:
        row = "  ".join(f"{_fmt(c, r.get(c)):<{widths[c]}}" for c in COLUMNS)
        if r.get("error"):
            row += f"  ! {r['error']}"
        lines.append(row.rstrip())
    return "\n".join(lines)


def format_markdown(records: Sequence[Mapping]) -> str:
    """The records as a markdown table (same columns, plus device and errors)."""
    cols = (*COLUMNS, "device", "error")
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in records:
        lines.append("| " + " | ".join(_fmt(c, r.get(c)).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"
