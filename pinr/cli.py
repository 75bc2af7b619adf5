"""Command line: ``pinr list | solve | sweep | validate | bench``.

Floor: cli, the top floor: it may import every floor (docs/architecture.md)."""

from __future__ import annotations

import ast
import datetime as _dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="pinr: physics-informed problems with implicit neural representations.")
list_app = typer.Typer(no_args_is_help=True, help="List problems or backbones.")
app.add_typer(list_app, name="list")


def _print_version(value: bool) -> None:
    if value:
        from pinr import __version__

        typer.echo(f"pinr {__version__}")
        raise typer.Exit()


_FLAGS = {"debug": False, "quiet": False}


@app.callback()
def _options(version: Annotated[Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True,
                                                             help="Print pinr's version and exit.")] = None,
             debug: Annotated[bool, typer.Option("--debug", help="show the full traceback of an error")] = False,
             quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, only errors and the outputs")] = False,
             verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what pinr decides (engines, references)")] = False):
    """pinr: physics-informed problems with implicit neural representations."""
    _FLAGS.update(debug=debug, quiet=quiet)
    level = logging.ERROR if quiet else (logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def _run(work, out: Path | None = None):
    """``work()`` with pinr's errors as one-line messages (unless ``--debug``): exit 2 for bad
    input, 3 for a diverged run, 130 when Ctrl-C stopped the run (at a step boundary, after
    writing its checkpoint; a second Ctrl-C interrupts at once)."""
    import signal

    import torch

    from pinr.errors import Interrupted, OutOfMemory
    from pinr.memory import is_out_of_memory
    from pinr.training.loop import request_stop

    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        request_stop()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        return work()
    except Exception as err:  # noqa: BLE001  (each kind gets its one line below; --debug shows all)
        if _FLAGS["debug"]:
            raise
        if isinstance(err, Interrupted):
            where = f"; continue with: pinr solve --resume {out}" if err.checkpoint is not None else ""
            _fail(f"interrupted: {err}{where}", 130)
        if isinstance(err, FloatingPointError):
            _fail(f"training diverged: {err}", 3)
        if isinstance(err, OutOfMemory):  # pinr's own line: what, the batch, the option to change
            _fail(f"error: {err}")
        if isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)) or is_out_of_memory(err):  # a CPU allocator's RuntimeError too
            _fail("error: out of memory; give fewer points per step (--batch N) or a smaller problem "
                  "(--set size=...), or use --device cpu")
        if isinstance(err, (ValueError, TypeError, FileExistsError, FileNotFoundError, NotImplementedError)):
            _fail(f"error: {err}")
        if isinstance(err, OSError):
            _fail(f"error: cannot write {err.filename or 'the run directory'}: {err.strerror or err}; "
                  "choose another --out")
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code`` (2: bad input, 3: diverged)."""
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


#: what building a problem may raise for bad input: each becomes one line (:func:`_problem_failed`)
_BAD_PROBLEM = (ValueError, TypeError, FileNotFoundError, MemoryError)


def _problem_failed(err: BaseException, where: str = "") -> NoReturn:
    """One line for an error building a problem; a bare ``MemoryError`` (not pinr's own
    :class:`~pinr.errors.OutOfMemory`, which names its fix) says what to shrink."""
    from pinr.errors import OutOfMemory

    if isinstance(err, MemoryError) and not isinstance(err, OutOfMemory):
        _fail(f"error: {where}out of memory building the problem; give a smaller problem (--set size=...)")
    _fail(f"error: {where}{err}")


def _parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_pairs(pairs: list[str], flag: str) -> dict:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise typer.BadParameter(f"{flag} takes key=value, got {p!r}", param_hint=flag)
        k, v = p.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


@list_app.command("problems")
def list_problems():
    """Catalogue problems and their parameters."""
    from pinr.problems import available_problems, problem_params

    for name in available_problems():
        params = ", ".join(f"{k}={v!r}" for k, v in problem_params(name).items())
        typer.echo(f"{name:16s} {params}")


@list_app.command("backbones")
def list_backbones():
    """Registered backbones, each with its recommended peak lr (and where it comes from) and its options."""
    from pinr.backbones import available_backbones, backbone_options, backbone_training

    names = available_backbones()
    training = {name: backbone_training(name) for name in names}
    lrs = {name: f"lr={_exp_text(t.lr)} ({t.source})" for name, t in training.items()}
    width = max(map(len, lrs.values()), default=0)
    for name in names:
        opts = ", ".join(f"{k}={v!r}" for k, v in backbone_options(name).items())
        typer.echo(f"{name:8s} {lrs[name]:{width}s}  {opts}")


def _exp_text(x: float) -> str:
    """``x`` in short scientific notation: 1e-4, 2.5e-3 (no trailing zeros, no exponent padding)."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


#: options ``solve`` and ``sweep`` share (a training run of a catalogue problem)
BackboneOption = Annotated[Optional[str], typer.Option("--backbone", help="backbone name (default: the problem's)")]
StepsOption = Annotated[Optional[int], typer.Option("--steps", help="training steps (default: the problem's)")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 or auto (default)")]
DtypeOption = Annotated[Optional[str], typer.Option("--dtype", help="float32 (default) or float64")]
EngineOption = Annotated[Optional[str], typer.Option("--engine", help="derivative engine: auto (default), jet, autograd or func")]
BatchOption = Annotated[Optional[int], typer.Option("--batch", help="points per condition per step")]
SetOption = Annotated[Optional[list[str]], typer.Option("--set", help="problem parameter key=value (repeatable)")]


@app.command()
def solve(
    problem: Annotated[Optional[str], typer.Argument(help="catalogue problem name (see `pinr list problems`), or a problem file: problem.toml (a statement in strings) or my_problem.py (defines `problem`); with --resume, the run's own")] = None,
    backbone: BackboneOption = None,
    steps: StepsOption = None,
    lr: Annotated[Optional[float], typer.Option(help="peak learning rate (default: the problem's, else the backbone's)")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam or natural (second-order Gauss-Newton steps); default: the problem's, else chosen from the statement")] = None,
    device: DeviceOption = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed (default 0)")] = None,
    dtype: DtypeOption = None,
    engine: EngineOption = None,
    solver: Annotated[str, typer.Option(help="pinn or fd (finite-difference reference)")] = "pinn",
    batch: BatchOption = None,
    out: Annotated[Optional[Path], typer.Option(help="run directory (default runs/PROBLEM-BACKBONE-TIME)")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue the run in this directory, as its config.json records it")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="problem parameter key=value (repeatable): a catalogue problem's, or a problem file's [parameters]")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", help="backbone option key=value (repeatable)")] = None,
    train: Annotated[Optional[list[str]], typer.Option("--train", help="other solver option key=value, e.g. lbfgs_steps=100, time_window=0.5 (repeatable)")] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the training step")] = None,
    compile_mode: Annotated[Optional[str], typer.Option(help="torch.compile mode, e.g. reduce-overhead (CUDA graphs)")] = None,
    tf32: Annotated[Optional[bool], typer.Option("--tf32/--no-tf32", help="allow TF32 matmuls on CUDA")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Solve a catalogue problem or a problem file (.toml or .py), write a run directory and print
    the final metrics. A file's problem trains at the defaults pinr chooses from its statement,
    under the file's own training options, under the command line's."""
    import pinr as pr
    from pinr.problem_files import is_problem_file, load_problem_file

    params = _parse_pairs(set_, "--set")
    options = _parse_pairs(option, "--option")
    if resume is not None:
        problem, params = _recorded_problem(resume, problem, params)
        out = Path(resume)
    if problem is None:
        _fail("error: name a problem (`pinr list problems`) or a problem file (.toml, .py), or continue a run "
              "with --resume DIR")
    from_file = is_problem_file(problem)
    stated = {}  # the training options a problem file states
    try:
        if from_file:
            prob, stated = load_problem_file(problem, params=params)
        else:
            prob = pr.problems.get(problem, **params)
    except _BAD_PROBLEM as err:
        _problem_failed(err)
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = (backbone or prob.training.model.backbone or stated.get("backbone") or "siren") \
            if solver == "pinn" else "fd"
        out = Path("runs") / f"{Path(problem).stem if from_file else problem}-{name}-{stamp}"
    kw = {}
    if solver == "pinn":
        kw = dict(backbone=backbone, steps=steps, lr=lr, optimizer=optimizer, device=device, seed=seed, dtype=dtype,
                  engine=engine, batch=batch, resume=resume, compile=compile_mode or compile, tf32=tf32, progress=progress)
        kw = {**stated, **{k: v for k, v in kw.items() if v is not None}}
        if options:
            kw["backbone_options"] = options
        extra = _parse_pairs(train, "--train")
        from pinr.collection import CodeConfig, Collection
        from pinr.training.config import option_names

        valid = set(option_names()) | (set(CodeConfig.OPTIONS) if isinstance(prob, Collection) else set())
        unknown = sorted(set(extra) - valid)
        if unknown:
            _fail(f"error: --train {', '.join(unknown)}: not a solver option; valid: {', '.join(sorted(valid))}")
        own_flags = {"backbone", "steps", "lr", "optimizer", "device", "seed", "dtype", "engine", "batch", "resume",
                     "compile", "tf32", "progress", "out", "backbone_options"}
        clash = sorted(set(extra) & own_flags)
        if clash:
            _fail(f"error: --train {', '.join(clash)}: set these with their own flags")
        kw.update(extra)
    elif train:
        _fail("error: --train applies to the pinn solver")
    if _FLAGS["quiet"] and solver == "pinn":  # the FD reference shows no progress
        kw["progress"] = False
    from pinr.training.strategy import is_main_process

    if not is_main_process():  # under torchrun the other ranks stay silent: rank 0 shows and reports
        logging.getLogger("pinr").setLevel(logging.ERROR)
    _run(lambda: pr.solve(prob, solver=solver, out=out, **kw), out)
    if is_main_process():
        _report(out, solver)


@app.command()
def sweep(
    problem: Annotated[str, typer.Argument(help="catalogue problem name (see `pinr list problems`)")],
    over: Annotated[list[str], typer.Option("--over", help="swept values: omega0=10,20,30 or seed=0..3 (inclusive); keys: seed, lr, backbone options (repeatable)")],
    backbone: BackboneOption = None,
    steps: StepsOption = None,
    lr: Annotated[Optional[float], typer.Option(help="peak learning rate, when not swept")] = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    engine: EngineOption = None,
    batch: BatchOption = None,
    out: Annotated[Optional[Path], typer.Option(help="sweep directory (default runs/sweep-PROBLEM-TIME)")] = None,
    set_: SetOption = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", help="fixed backbone option key=value (repeatable)")] = None,
):
    """Train every combination of the --over values together (one vmapped step where the models
    share a structure) and print one table; writes sweep.csv, sweep.json, sweep.png and a run
    directory per model."""
    import pinr as pr
    from pinr.sweep import parse_over_text

    try:
        swept = parse_over_text(over)
        prob = pr.problems.get(problem, **_parse_pairs(set_, "--set"))
    except _BAD_PROBLEM as err:
        _problem_failed(err)
    if out is None:
        out = Path("runs") / f"sweep-{problem}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    kw = dict(backbone=backbone, steps=steps, lr=lr, device=device, dtype=dtype, engine=engine, batch=batch)
    kw = {k: v for k, v in kw.items() if v is not None}
    if option:
        kw["backbone_options"] = _parse_pairs(option, "--option")
    result = _run(lambda: pr.sweep(prob, over=swept, out=out, **kw), out)  # a fallback is logged as a warning
    typer.echo(result.table())
    typer.echo(f"outputs: {out} ({len(result)} models, {result.ms_per_step:.1f} ms per step for all of them)")


def _report(out: Path, solver: str) -> None:
    """Print the run directory, what pinr chose (and from where) and the final metrics."""
    metrics = json.loads((out / "metrics.json").read_text())
    typer.echo(f"outputs: {out}")
    if _FLAGS["quiet"]:
        return
    if solver in ("pinn", "conditioned"):  # what pinr chose for options you did not give, and from where (also in config.json)
        from pinr.run import read_record

        chosen = read_record(out).get("chosen_by", {})
        typer.echo("chosen: " + ("; ".join(f"{k} from {v}" for k, v in chosen.items()) or "all options were yours"))
    for k, v in metrics.items():
        if k == "verdict":
            continue
        typer.echo(f"  {k:14s} {v:.6g}" if isinstance(v, float) else f"  {k:14s} {v}")
    if "verdict" in metrics:  # last: whether the answer above can be trusted, and what to try if not
        typer.echo(metrics["verdict"]["line"])


def _recorded_problem(run: Path, problem: str | None, params: dict) -> tuple[str, dict]:
    """The catalogue problem (or problem file) and parameters a run directory records; a PROBLEM
    or --set given again must agree with them."""
    from pinr.run import read_record

    try:
        recorded = read_record(run).get("problem", {})
    except (FileNotFoundError, ValueError) as err:
        _fail(f"error: --resume {run}: {err}")
    name, saved = recorded.get("file") or recorded.get("name"), dict(recorded.get("params") or {})
    if name is None:
        _fail(f"error: --resume {run}: its record names no catalogue problem; resume it from Python with pr.solve(...)")
    same = problem == name or "file" in recorded and problem is not None and Path(problem).resolve() == Path(name)
    if problem is not None and not same:
        _fail(f"error: --resume {run} is a run of {name!r}, not {problem!r}; drop the problem name to continue it")
    clash = sorted(k for k, v in params.items() if saved.get(k, v) != v or k not in saved)
    if clash:
        _fail(f"error: --resume {run}: --set {', '.join(clash)} differs from the run's record {saved}; drop it")
    return name, saved


@app.command()
def rerun(
    run: Annotated[Path, typer.Argument(help="a run directory (its config.json) to repeat from scratch")],
    out: Annotated[Optional[Path], typer.Option(help="run directory of the repeat (default RUN-rerun-TIME)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Repeat a run from its record: the same problem, parameters and every training option."""
    import pinr as pr
    from pinr.run import read_record, recorded_options

    try:
        record = read_record(run)
    except (FileNotFoundError, ValueError) as err:
        _fail(f"error: {err}")
    recorded, solver = record.get("problem", {}), record.get("solver", "pinn")
    if recorded.get("name") is None or solver not in ("pinn", "conditioned"):
        _fail(f"error: {run}: its record names no catalogue PINN run to repeat")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = out if out is not None else Path(f"{run}-rerun-{stamp}")
    params = dict(recorded.get("params") or {})
    options = recorded_options(record)
    if solver == "conditioned":  # a collection's run: its codes' options too
        from pinr.collection import CodeConfig

        options.update(CodeConfig(**record.get("codes", {})).options())
    if "file" in recorded:  # a problem file's run: the file read again (its options are in the record)
        from pinr.problem_files import load_problem_file

        try:
            target = load_problem_file(recorded["file"], params=params)[0]
        except _BAD_PROBLEM as err:
            _problem_failed(err, f"{run}: ")
    else:
        try:
            target = pr.problems.get(recorded["name"], **params)
        except _BAD_PROBLEM as err:
            _problem_failed(err, f"{run}: ")
    _run(lambda: pr.solve(target, out=out, progress=progress and not _FLAGS["quiet"], **options), out)
    _report(out, solver)


@app.command()
def validate(
    problems: Annotated[Optional[list[str]], typer.Argument(help="catalogue problems (default: all)")] = None,
    backbone: Annotated[Optional[list[str]], typer.Option("--backbone", help="backbone (repeatable; default: each problem's)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps (default: each problem's)")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 or auto")] = "auto",
    json_path: Annotated[Path, typer.Option("--json", help="records as JSON (a markdown table goes next to it)")] = Path("validate.json"),
    md_path: Annotated[Optional[Path], typer.Option("--md", help="markdown table (default: the JSON path with .md)")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="problem parameter key=value, passed to every problem that has it")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", help="backbone option key=value (repeatable)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar per run")] = True,
):
    """Train each problem with each backbone, compare with its reference (analytic, exact or FD)
    and print a table of error, time and steps; write JSON and markdown."""
    from pinr.bench.validate import run_validate

    md_path = md_path if md_path is not None else json_path.with_suffix(".md")
    try:
        records = run_validate(problems or [], backbone or [], steps, device, json_path, md_path,
                               _parse_pairs(set_, "--set"), backbone_options=_parse_pairs(option, "--option") or None,
                               progress=progress, echo=typer.echo)
    except (ValueError, TypeError) as err:
        _fail(f"error: {err}")
    typer.echo(f"records: {json_path}, table: {md_path}")
    if any(r["error"] for r in records):
        raise typer.Exit(1)


bench_app = typer.Typer(help="Benchmarks: step timings (default), or `pinr bench quality` for image-fitting quality.")
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    case: Annotated[Optional[list[str]], typer.Option("--case", help="fit, laplacian, wave, eikonal, helmholtz-pml (repeatable; default all)")] = None,
    engine: Annotated[Optional[list[str]], typer.Option("--engine", help="reference, autograd, jet (repeatable; default all)")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "auto",
    points: Annotated[Optional[int], typer.Option(help="collocation points (default 65,536 on CUDA, 4,096 on CPU)")] = None,
    backbone: Annotated[str, typer.Option(help="backbone to time")] = "siren",
    option: Annotated[Optional[list[str]], typer.Option("--option", help="backbone option key=value (repeatable)")] = None,
    compiled: Annotated[bool, typer.Option("--compile/--no-compile", help="also time torch.compile'd steps")] = True,
    steps: Annotated[int, typer.Option(help="timed steps per variant, median reported")] = 10,
    warmup: Annotated[int, typer.Option(help="untimed warm-up steps (compilation happens here)")] = 3,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="write the records as JSON here")] = None,
):
    """Time one training step per case × engine × (eager, compiled), side by side in one run."""
    if ctx.invoked_subcommand is not None:
        return
    from pinr.bench import steps as B
    from pinr.io import write_json

    records = _run(lambda: B.run_bench(cases=tuple(case or B.CASES), engines=tuple(engine or B.ENGINES),
                                       compiled=(False, True) if compiled else (False,), points=points,
                                       device=device, backbone=backbone, options=_parse_pairs(option, "--option"),
                                       steps=steps, warmup=warmup))
    import torch

    dev = records[0].device if records else device
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    typer.echo(f"device: {name}, torch {torch.__version__}, backbone {backbone}, points {records[0].points if records else points}")
    typer.echo(B.format_table(records))
    if json_path is not None:
        write_json(json_path, B.records_to_json(records))
        typer.echo(f"records: {json_path}")


@bench_app.command("sweep")
def bench_sweep(
    models: Annotated[int, typer.Option(help="models trained together")] = 16,
    width: Annotated[int, typer.Option(help="SIREN width")] = 64,
    points: Annotated[int, typer.Option(help="points per model per step")] = 4096,
    steps: Annotated[int, typer.Option(help="timed steps, median reported")] = 5,
    warmup: Annotated[int, typer.Option(help="untimed warm-up steps")] = 2,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "auto",
):
    """Many models in one step: MODELS SIRENs trained vmapped and one after the other, side by side (ms/step, ratio)."""
    from pinr.bench.sweep import format_sweep_bench, run_sweep_bench

    result = _run(lambda: run_sweep_bench(models=models, width=width, points=points, steps=steps, warmup=warmup,
                                          device=device))
    typer.echo(format_sweep_bench(result))


@bench_app.command("quality")
def bench_quality(
    quick: Annotated[bool, typer.Option(help="tiny sizes and steps (CPU, seconds)")] = False,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, ... (default: cuda when available)")] = None,
    images: Annotated[Optional[list[str]], typer.Option("--image", help="bundled image (repeatable; default astronaut, camera, coffee)")] = None,
    backbones: Annotated[Optional[list[str]], typer.Option("--backbone", help="backbone (repeatable; default every registered one)")] = None,
    protocols: Annotated[Optional[list[str]], typer.Option("--protocol", help="full or sape25 (repeatable; default both)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps (default 5000; quick 10)")] = None,
    size: Annotated[Optional[int], typer.Option(help="image side (default 512; quick 16)")] = None,
    evals: Annotated[Optional[int], typer.Option(help="evaluations per run, best PSNR over them (default 20; quick 2)")] = None,
    compile: Annotated[Optional[str], typer.Option(help="torch.compile mode: default, reduce-overhead, max-autotune")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    tf32: Annotated[bool, typer.Option(help="allow TF32 matmuls on CUDA")] = False,
    plots: Annotated[Optional[Path], typer.Option(help="directory for PINs level and SAPE mask plots")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (quick: 1)")] = None,
    lr: Annotated[Optional[list[str]], typer.Option("--lr", help="learning-rate override NAME=LR (repeatable)")] = None,
    write: Annotated[Optional[Path], typer.Option(help="append the table to this markdown file (e.g. bench/RESULTS.md)")] = None,
):
    """Fit bundled images with every backbone (SIREN's protocol and SAPE's 25 % protocol) and
    report PSNR, SSIM and ms/step, side by side in one run."""
    from pinr.bench.quality import main as quality_main

    argv = ["--quick"] * quick + ["--tf32"] * tf32 + ["--seed", str(seed)]
    for flag, value in (("--device", device), ("--steps", steps), ("--size", size), ("--evals", evals),
                        ("--compile", compile), ("--plots", plots), ("--threads", threads), ("--write", write)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, values in (("--images", images), ("--backbones", backbones), ("--protocols", protocols), ("--lr", lr)):
        if values:
            argv += [flag, *values]
    code = _run(lambda: quality_main(argv, prog="pinr bench quality"))
    raise typer.Exit(code)


@bench_app.command("suite")
def bench_suite(
    suite: Annotated[str, typer.Argument(help="the suite to run: pinn")],
    case: Annotated[Optional[list[str]], typer.Option("--case", help="a case of the suite (repeatable; default all)")] = None,
    quick: Annotated[bool, typer.Option(help="a few steps per case (a smoke run: not accuracy figures)")] = False,
    against: Annotated[Optional[list[str]], typer.Option("--against", help="also run this peer: deepxde (repeatable)")] = None,
    equal_time: Annotated[bool, typer.Option("--equal-time", help="stop each peer at pinr's wall time on the case")] = False,
    optimizer: Annotated[Optional[list[str]], typer.Option("--optimizer", help="also run pinr with this optimizer over its defaults: adam or natural (repeatable)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write the markdown table here (e.g. for bench/RESULTS.md)")] = None,
):
    """Problems with exact solutions or references, solved by pinr at its defaults and by peers
    with their examples' settings: rel. L2, wall seconds, ms/step and steps, side by side
    (``--equal-time``: each peer stopped at pinr's wall time on the case; ``--optimizer``: pinr
    again with that optimizer)."""
    from pinr.bench import suite as S
    from pinr.io import write_text

    if suite != "pinn":
        _fail(f"error: unknown suite {suite!r}; choose pinn")
    if equal_time and not against:
        _fail("error: --equal-time times a peer against pinr: add --against deepxde")
    records = _run(lambda: S.run_suite(case, quick=quick, against=tuple(against or ()), equal_time=equal_time,
                                       optimizers=tuple(optimizer or ()), echo=typer.echo))
    table = S.format_markdown(records, quick=quick, equal_time=equal_time)
    typer.echo(table)
    if out is not None:
        write_text(out, table)
        typer.echo(f"table: {out}")


@bench_app.command("radiance")
def bench_radiance(
    comparison: Annotated[Optional[list[str]], typer.Option("--comparison", help="fields (nerf, siren, ff on the hemisphere scene) or multiplane (nex vs nerf on forward-facing views); repeatable, default both")] = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps per run (default the cases' 3000)")] = None,
    size: Annotated[Optional[int], typer.Option(help="picture side (default the cases' 64)")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, ... (default: cuda when available)")] = None,
    quick: Annotated[bool, typer.Option(help="tiny pictures, fields and steps (a smoke run: not quality figures)")] = False,
    out: Annotated[Optional[Path], typer.Option(help="write the markdown table here (e.g. for bench/RESULTS.md)")] = None,
):
    """Radiance fields side by side on pinr's synthetic scene: held-out PSNR/SSIM, seconds, ms/step
    and rays/s of each field (NeRF's MLP, SIREN, Fourier features) and of NeX against NeRF."""
    from pinr.bench.radiance import COMPARISONS, format_radiance_table, run_radiance_bench
    from pinr.io import write_text

    chosen = tuple(comparison or COMPARISONS)
    records = _run(lambda: run_radiance_bench(chosen, steps=steps, size=size, device=device, quick=quick,
                                              echo=typer.echo))
    table = format_radiance_table(records)
    typer.echo(table)
    if out is not None:
        write_text(out, table)
        typer.echo(f"table: {out}")


def main():  # entry point
    app()


if __name__ == "__main__":
    sys.exit(main())
