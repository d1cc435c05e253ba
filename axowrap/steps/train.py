"""The train step: `accelerate launch -m axolotl.cli.train axolotl.yaml` as a child process.

Resumes from the newest complete checkpoint when the runner says the same training was
interrupted or crashed; starts fresh (old checkpoints removed) when the training changed.
Its fingerprint covers the rendered config, minus keys that cannot change the weights, plus
the sha256 of the base model (local) and of every training file.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from axowrap.errors import StepInterrupted
from axowrap.run.checkpoints import global_step, newest_complete
from axowrap.run.child import child_env, run_child, step_failed
from axowrap.run.launch import launch_argv
from axowrap.run.manifest import load_manifest, scrub_env
from axowrap.run.progress import make_sink
from axowrap.run.state import update_step
from axowrap.steps.base import Step, StepContext
from axowrap.tracking.keys import TRACKING_KEYS

# Keys that only change logging (experiment trackers included), where files go, or how often
# checkpoints are written: switching tracking on never re-trains.
NOT_WEIGHTS = {
    "logging_steps",
    "save_total_limit",
    "dataset_prepared_path",
    "output_dir",
    "save_steps",
    "saves_per_epoch",
} | TRACKING_KEYS


def params(ctx: StepContext) -> dict[str, Any]:
    manifest = load_manifest(ctx.run)
    return {
        "config": {k: v for k, v in ctx.config.items() if k not in NOT_WEIGHTS},
        "data": [d["sha256"] for d in manifest["datasets"]],
        "base_model": manifest["base_model"].get("sha256") or manifest["base_model"],
    }


def outputs(ctx: StepContext) -> list[Path]:
    weights = "adapter_model.safetensors" if ctx.config.get("adapter") else "config.json"
    return [ctx.run.adapter / weights]


def command(ctx: StepContext) -> tuple[list[str], dict[str, str]]:
    """(argv, env changes) of the training launch for this run."""
    return launch_argv(ctx.spec, ctx.run.config)


def shown_env(key: str, value: str) -> str:
    """An env change as a shell would write it; PATH shows what is prepended."""
    if key == "PATH" and value.endswith(os.pathsep + os.environ.get("PATH", "")):
        return shlex.quote(value[: -len(os.environ.get("PATH", "")) - 1]) + os.pathsep + "$PATH"
    return shlex.quote(value)


def _record_pid(ctx: StepContext, pid: int) -> None:
    update_step(ctx.run, "train", pid=pid)


def _set_aside(ckpt: Path) -> None:
    """Move an incomplete checkpoint out of Axolotl's `checkpoint-*` namespace (kept, not trusted)."""
    target = ckpt.with_name(f"incomplete-{ckpt.name}")
    if target.exists():
        shutil.rmtree(target)
    ckpt.rename(target)


def _target(ctx: StepContext) -> Any:
    """The run's target machine, or None for a team target defined in a file (not checkable here)."""
    from axowrap.errors import AxowrapError
    from axowrap.targets import get_target

    compute = ctx.spec["compute"]
    team = ctx.spec.get("targets") if isinstance(ctx.spec.get("targets"), dict) else None
    try:
        return get_target(compute["target"], compute["gpus_per_node"], compute["nodes"], team)
    except AxowrapError:
        return None


def machine_preflight(ctx: StepContext, target: Any) -> None:
    """Fail in a second, before any child starts, when this machine cannot run the training."""
    from axowrap.errors import AxowrapError
    from axowrap.run.preflight import SKIP, preflight

    problems = preflight(ctx.config, target)  # no target: the machine is not checked, the model still is
    if problems:
        (first, fix), rest = problems[0], problems[1:]
        more = "".join(f"\n  also: {p} (fix: {f})" for p, f in rest)
        raise AxowrapError(f"cannot train here: {first}{more}", hint=f"{fix} (or set {SKIP}=1 to skip these checks)")


def axolotl_preflight(ctx: StepContext, target: Any) -> None:
    """Axolotl's own validator (and its optimizer, scheduler and dataset-type loaders) on the
    run's config, before anything is launched: a config Axolotl refuses stops here in seconds,
    located in the run's axolotl.yaml, instead of after the launch starts Axolotl."""
    from axowrap.config.referee import verdicts
    from axowrap.errors import ValidationFailed
    from axowrap.yamlio import load_yaml

    found = verdicts([ctx.config], target.capabilities(), dropped_keys=False)[0].of("refused", "fails")
    if found:
        doc = load_yaml(ctx.run.config, yaml12_floats=False)
        where = f"Axolotl ({target.name} x{target.gpus})"
        raise ValidationFailed([doc.problem(f.path, f"{where}: {f.message}") for f in found])


def run(ctx: StepContext) -> dict[str, Any]:
    from axowrap.tracking.runs import start as start_tracking

    if not ctx.dry_run:
        target = _target(ctx)
        machine_preflight(ctx, target)
        if target is not None:
            axolotl_preflight(ctx, target)
    argv, env = command(ctx)
    # The tracker runs of this training (created once, reused on resume): env that attaches to them.
    fingerprint = (ctx.state.get("train") or {}).get("fingerprint")
    env = {**env, **start_tracking(ctx.run, ctx.config, fingerprint, create=not ctx.dry_run)}
    resume_from: Path | None = None
    if ctx.options.get("resume"):
        found = newest_complete(ctx.run.adapter)
        for warning in found.warnings:
            ctx.say(f"warning: {warning}")
        if not ctx.dry_run:
            for ckpt in found.skipped:
                _set_aside(ckpt)
        resume_from = found.checkpoint
    if resume_from is not None:
        argv.append(f"--resume_from_checkpoint={resume_from}")
    if ctx.dry_run:
        ctx.say(f"would run: {shlex.join(argv)}")
        ctx.say(
            "environment changes: "
            + (" ".join(f"{k}={shown_env(k, v)}" for k, v in scrub_env(child_env(env)).items()) or "none")
        )
        if ctx.run.adapter.exists() and not ctx.options.get("resume"):
            ctx.say(f"would remove the previous training outputs in {ctx.run.adapter}")
        return {
            "argv": argv,
            "env": scrub_env(child_env(env)),
            "resume_from": str(resume_from) if resume_from else None,
        }
    if resume_from is None and ctx.run.adapter.exists():
        shutil.rmtree(ctx.run.adapter)  # another training's checkpoints must never be resumed
    resumed_at = global_step(resume_from) if resume_from is not None else None
    if resume_from is not None:  # read now: Axolotl may rotate that checkpoint away while training
        ctx.say(f"resuming from {resume_from.name} (global step {resumed_at})")
    sink = make_sink(
        ctx.events,
        step="train",
        logging_steps=int(ctx.config.get("logging_steps") or 1),
        start_step=resumed_at or 0,
        total=ctx.config.get("max_steps"),
    )  # known up front when the spec sets max_steps
    try:
        result = run_child(
            argv,
            env=env,
            log=ctx.log,
            on_record=sink.record,
            cwd=ctx.run.root,
            on_start=lambda pid: _record_pid(ctx, pid),
        )
    finally:
        sink.close()
    if result.interrupted:
        raise StepInterrupted("step train interrupted; checkpoints are kept", hint="rerun the same command to resume")
    if result.code != 0:
        raise step_failed("train", argv, result.code, ctx.log, result.tail)
    return summary(ctx, resume_from, resumed_at, sink.parser.last)


def summary(ctx: StepContext, resume_from: Path | None, resumed_at: int | None, last: dict[str, Any]) -> dict[str, Any]:
    from axowrap.run.report import loss_plot

    newest = newest_complete(ctx.run.adapter).checkpoint
    trainer_state = newest / "trainer_state.json" if newest else None
    history = json.loads(trainer_state.read_text(encoding="utf-8"))["log_history"] if trainer_state else []
    losses = [h["loss"] for h in history if "loss" in h]
    plot = loss_plot(history, ctx.run.root / "loss.png") if losses else None
    step = global_step(newest) if newest else None
    result = {
        "adapter": str(ctx.run.adapter),
        "global_step": step,
        "resumed_from": str(resume_from) if resume_from else None,
        "resumed_at_step": resumed_at,
        "final_loss": losses[-1] if losses else None,
        "train_runtime_s": last.get("train_runtime"),
        "tokens_per_s": last.get("tokens_per_s"),
        "loss_plot": str(plot) if plot else None,
    }
    lines = ["## Training", "", f"- adapter: `{ctx.run.adapter}`", f"- steps: {step}"]
    if losses:
        lines.append(f"- loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    if resume_from:
        lines.append(f"- resumed from `{resume_from.name}`")
    if plot:
        lines += ["", "![loss](loss.png)"]
    result["report"] = "\n".join(lines) + "\n"
    return result


STEP = Step(name="train", needs=(), enabled=lambda ctx: True, params=params, outputs=outputs, run=run)
