"""Plan against what a finished run measured, and calibration of the plan from runs.

A run's train log holds Axolotl's log dicts: `memory/max_allocated (GiB)` and
`memory/device_reserved (GiB)` (torch's allocator, on the main process's GPU) and
`tokens/total` (token slots processed so far) with `train_runtime` at the end. From these:
the measured peak (reserved, what the allocator held) and tokens per second per GPU.

Calibration fits two terms per target, over the runs given: `overhead_gb`, the measured peak
minus every other component of the run's plan (at least 0), and `mfu`, the utilization that
turns the target's TFLOPs into the measured tokens/s. They are written to the calibration
file (targets.calibration_path()), which later plans read (a team can copy them into its
`targets:`)."""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from axowrap.errors import AxowrapError
from axowrap.plan.memory import GB

GIB = 2**30


@dataclass(frozen=True)
class Measured:
    run: Path
    target: str
    gpus: int
    peak_allocated_gb: float | None  # None: not measured (a CPU run)
    peak_reserved_gb: float | None
    tokens_per_s: float | None  # per GPU, token slots over the trainer's runtime
    steps: int


def measure(run_root: Path) -> Measured:
    """What the run's train log measured."""
    from axowrap.run.progress import parse_log_dict
    from axowrap.run.rundir import open_run

    run = open_run(run_root)
    log = run.log("train")
    if not log.is_file():
        raise AxowrapError(f"{run.root}: no train log ({log})", hint="the run has not trained: `axowrap run SPEC`")
    allocated: list[float] = []
    reserved: list[float] = []
    tokens = 0.0
    runtime = 0.0
    steps = 0
    for line in log.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").splitlines():
        found = parse_log_dict(line)
        if not found:
            continue
        if "loss" in found:
            steps += 1
        if isinstance(found.get("memory/max_allocated (GiB)"), float):
            allocated.append(found["memory/max_allocated (GiB)"])
        if isinstance(found.get("memory/device_reserved (GiB)"), float):
            reserved.append(found["memory/device_reserved (GiB)"])
        if isinstance(found.get("tokens/total"), float):
            tokens = max(tokens, found["tokens/total"])
        if isinstance(found.get("train_runtime"), float):
            runtime = found["train_runtime"]
    if not steps:
        raise AxowrapError(f"{log}: no training step was logged", hint="the run did not get to train; see the log")
    spec = _effective(run.root)
    compute = spec.get("compute") or {}
    gpus = int(compute.get("gpus_per_node", 1)) * int(compute.get("nodes", 1))
    peak_a = max(allocated) * GIB / GB if allocated and max(allocated) > 0 else None
    peak_r = max(reserved) * GIB / GB if reserved and max(reserved) > 0 else None
    tps = tokens / runtime / max(1, gpus) if tokens and runtime else None
    return Measured(run.root, str(compute.get("target", "?")), gpus, peak_a, peak_r, tps, steps)


def _effective(root: Path) -> dict[str, Any]:
    from axowrap.run.manifest import load_manifest
    from axowrap.run.rundir import RunDir

    return dict((load_manifest(RunDir(root)).get("spec") or {}).get("effective") or {})


def run_plan(run_root: Path) -> Any:
    """The plan of the spec the run was made from, for the target it ran on."""
    from axowrap.plan.build import fit_check
    from axowrap.run.manifest import load_manifest
    from axowrap.run.rundir import RunDir
    from axowrap.spec.model import Spec
    from axowrap.yamlio import parse_yaml

    run = RunDir(run_root)
    manifest = load_manifest(run)
    path = Path((manifest.get("spec") or {}).get("path") or run.spec)
    data = _effective(run.root)
    if not data:
        raise AxowrapError(f"{run.manifest}: it records no effective spec", hint="rerun `axowrap run SPEC`")
    doc = parse_yaml(run.spec.read_text(encoding="utf-8"), str(path))
    spec = Spec(path=path, doc=doc, data=data, sources={})
    return fit_check(spec, spec.target(), network=True)


def compare(run_root: Path) -> dict[str, Any]:
    """Plan vs measured for one run."""
    from axowrap.plan.cost import throughput

    m = measure(run_root)
    plan = run_plan(run_root)
    tp = throughput(plan.dims, plan.setup, plan.target)
    out: dict[str, Any] = {
        "run": str(m.run),
        "target": plan.target.name,
        "gpus": m.gpus,
        "steps": m.steps,
        "plan_total_gb": round(plan.estimate.total / GB, 2),
        "plan_range_gb": [round(plan.estimate.low / GB, 2), round(plan.estimate.high / GB, 2)],
        "measured_peak_reserved_gb": None if m.peak_reserved_gb is None else round(m.peak_reserved_gb, 2),
        "measured_peak_allocated_gb": None if m.peak_allocated_gb is None else round(m.peak_allocated_gb, 2),
        "plan_tokens_per_s": None if tp is None else round(tp.tokens_per_s),
        "measured_tokens_per_s": None if m.tokens_per_s is None else round(m.tokens_per_s),
    }
    if m.peak_reserved_gb:
        out["memory_ratio"] = round(m.peak_reserved_gb / (plan.estimate.total / GB), 3)
    if tp is not None and m.tokens_per_s:
        out["speed_ratio"] = round(m.tokens_per_s / tp.tokens_per_s, 3)
    return out


def fit_terms(run_root: Path) -> tuple[str, dict[str, float]]:
    """(target, {overhead_gb, mfu}) measured by one run (each only when it can be)."""
    from axowrap.plan.cost import QLORA_SLOWDOWN, flops_per_token

    m = measure(run_root)
    plan = run_plan(run_root)
    if plan.target.is_cpu:
        raise AxowrapError(
            f"{m.run}: ran on cpu: there is no GPU memory or TFLOPs figure to calibrate",
            hint="calibrate with runs from the GPU target you plan for",
        )
    terms: dict[str, float] = {}
    if m.peak_reserved_gb is not None:
        others = plan.estimate.total - plan.estimate.components["overhead"]
        terms["overhead_gb"] = max(0.0, m.peak_reserved_gb - others / GB)
    if m.tokens_per_s and plan.target.tflops:
        slowdown = QLORA_SLOWDOWN if plan.setup.bits == 4 else 1.0
        terms["mfu"] = m.tokens_per_s * flops_per_token(plan.dims, plan.setup) / (plan.target.tflops * 1e12 * slowdown)
    if not terms:
        raise AxowrapError(f"{m.run}: its log has neither GPU memory nor throughput figures to calibrate from")
    return plan.target.name, terms


def calibrate(runs: list[Path], path: Path) -> dict[str, dict[str, Any]]:
    """Fit overhead_gb and mfu per target over `runs` (the mean of each), and write them to
    `path` (other targets' entries are kept). Returns what was written for each target."""
    from axowrap.yamlio import atomic_write

    by_target: dict[str, list[dict[str, float]]] = {}
    sources: dict[str, list[str]] = {}
    for run in runs:
        name, terms = fit_terms(run)
        by_target.setdefault(name, []).append(terms)
        sources.setdefault(name, []).append(str(run.resolve()))
    try:
        existing = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        existing = {}
    except (OSError, yaml.YAMLError) as exc:
        raise AxowrapError(f"{path}: cannot read the calibration file: {exc}", hint="fix or delete it") from None
    targets = dict(existing.get("targets") or {}) if isinstance(existing, dict) else {}
    written: dict[str, dict[str, Any]] = {}
    for name, found in by_target.items():
        entry: dict[str, Any] = {}
        for key in ("overhead_gb", "mfu"):
            values = [t[key] for t in found if key in t]
            if values:
                entry[key] = round(statistics.mean(values), 3 if key == "mfu" else 2)
        entry["runs"] = sources[name]
        entry["calibrated"] = datetime.date.today().isoformat()
        targets[name] = entry
        written[name] = entry
    header = "# Written by `axowrap plan --calibrate`: measured terms per target, read by later plans.\n"
    atomic_write(path, header + yaml.safe_dump({"targets": targets}, sort_keys=True))
    return written
