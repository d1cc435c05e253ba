"""The train step: `accelerate launch -m axolotl.cli.train axolotl.yaml` as a child process.

Resumes from the newest complete checkpoint when the runner says the same training was
interrupted or crashed (and adapter/ was written by that same training: its MARKER file);
starts fresh when the training changed. Nothing is deleted: a previous adapter/ (checkpoints,
the user's files) moves to superseded/<time>/adapter before the new training starts, and moves
back if the new training never got to its first step (accelerate missing, a crash at start-up);
incomplete checkpoints move to superseded/ as well.
Its fingerprint covers the rendered config, minus keys that cannot change the weights, plus
the sha256 of the base model (local) and of every training file.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from axowrap.errors import StepInterrupted
from axowrap.run.checkpoints import checkpoints, global_step, newest_complete
from axowrap.run.child import child_env, run_child, step_failed
from axowrap.run.launch import launch_argv
from axowrap.run.manifest import load_manifest, scrub_env
from axowrap.run.outputs import supersede
from axowrap.run.progress import make_sink
from axowrap.run.state import update_step
from axowrap.steps.base import Step, StepContext

# Keys that only change logging, where files go, or how often checkpoints are written.
NOT_WEIGHTS = {
    "logging_steps",
    "use_wandb",
    "wandb_project",
    "wandb_entity",
    "wandb_name",
    "wandb_mode",
    "save_total_limit",
    "dataset_prepared_path",
    "output_dir",
    "save_steps",
    "saves_per_epoch",
}


def params(ctx: StepContext) -> dict[str, Any]:
    manifest = load_manifest(ctx.run)
    return {
        "config": {k: v for k, v in ctx.config.items() if k not in NOT_WEIGHTS},
        "data": [d["sha256"] for d in manifest["datasets"]],
        "base_model": manifest["base_model"].get("sha256") or manifest["base_model"],
    }


REQUIRED = ("adapter_model.safetensors", "adapter_config.json")


def outputs(ctx: StepContext) -> list[Path]:
    """The trained model at the top of adapter/ (checkpoints are the trainer's own business):
    the adapter and its config (required) and the tokenizer as trained; for a full fine-tune
    every top-level file but logs and training arguments."""
    from axowrap.hub.upload import ADAPTER_FILES, NOT_MODEL_FILES

    adapter = ctx.run.adapter
    if ctx.config.get("adapter"):
        extra = [adapter / n for n in ADAPTER_FILES if n not in REQUIRED and (adapter / n).is_file()]
        return [*(adapter / n for n in REQUIRED), *extra]
    found = sorted(p for p in adapter.iterdir() if p.is_file()) if adapter.is_dir() else []
    model = [p for p in found if p.name not in NOT_MODEL_FILES and p.name != MARKER and p.name != "config.json"]
    return [adapter / "config.json", *model]


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


MARKER = ".axowrap-train.json"  # in adapter/: the fingerprint of the training that writes it


def _written_by(adapter: Path, fingerprint: str | None) -> bool:
    """Whether adapter/ holds the checkpoints of the training with `fingerprint` (folders from
    before the marker existed count as such: the runner's fingerprint check stands for them)."""
    try:
        data = json.loads((adapter / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("fingerprint") == fingerprint


def _mark(adapter: Path, fingerprint: str | None) -> None:
    from axowrap.yamlio import atomic_write

    atomic_write(adapter / MARKER, json.dumps({"fingerprint": fingerprint}) + "\n")


def _set_aside(ctx: StepContext, ckpt: Path) -> None:
    """Move an incomplete checkpoint out of Axolotl's reach (kept in superseded/, not trusted)."""
    where = supersede(ctx.run.root, ckpt, f"incomplete-{ckpt.name}")
    ctx.say(f"moved the incomplete {ckpt.name} to {where}")


def _started(sink: Any, resumed_at: int | None, adapter: Path) -> bool:
    """Whether the training got going: it logged a step, or wrote a checkpoint."""
    return sink.parser.step > (resumed_at or 0) or bool(checkpoints(adapter))


def preflight(ctx: StepContext) -> None:
    """Axolotl's own validator (and its optimizer, scheduler and dataset-type loaders) on the
    run's config, before anything is launched: a config Axolotl refuses stops here in seconds,
    located in the run's axolotl.yaml, instead of after the launch starts Axolotl."""
    from axowrap.config.referee import verdicts
    from axowrap.errors import ValidationFailed
    from axowrap.targets import get_target
    from axowrap.yamlio import load_yaml

    compute = ctx.spec["compute"]
    target = get_target(compute["target"], compute["gpus_per_node"], compute["nodes"])
    found = verdicts([ctx.config], target.capabilities(), dropped_keys=False)[0].of("refused", "fails")
    if found:
        doc = load_yaml(ctx.run.config, yaml12_floats=False)
        where = f"Axolotl ({target.name} x{target.gpus})"
        raise ValidationFailed([doc.problem(f.path, f"{where}: {f.message}") for f in found])


def run(ctx: StepContext) -> dict[str, Any]:
    if not ctx.dry_run:
        preflight(ctx)
    argv, env = command(ctx)
    fingerprint = ctx.fingerprints.get("train")
    resume_from: Path | None = None
    if ctx.options.get("resume") and _written_by(ctx.run.adapter, fingerprint):
        found = newest_complete(ctx.run.adapter)
        for warning in found.warnings:
            ctx.say(f"warning: {warning}")
        if not ctx.dry_run:
            for ckpt in found.skipped:
                _set_aside(ctx, ckpt)
        resume_from = found.checkpoint
    if resume_from is not None:
        argv.append(f"--resume_from_checkpoint={resume_from}")
    if ctx.dry_run:
        ctx.say(f"would run: {shlex.join(argv)}")
        ctx.say(
            "environment changes: "
            + (" ".join(f"{k}={shown_env(k, v)}" for k, v in scrub_env(child_env(env)).items()) or "none")
        )
        if ctx.run.adapter.exists() and resume_from is None:
            ctx.say(f"would move the previous training outputs in {ctx.run.adapter} to {ctx.run.root / 'superseded'}/")
        return {
            "argv": argv,
            "env": scrub_env(child_env(env)),
            "resume_from": str(resume_from) if resume_from else None,
        }
    previous: Path | None = None
    if resume_from is None and ctx.run.adapter.exists():  # another training's checkpoints must never be resumed
        previous = supersede(ctx.run.root, ctx.run.adapter)
    ctx.run.adapter.mkdir(parents=True, exist_ok=True)
    _mark(ctx.run.adapter, fingerprint)
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
    except BaseException:
        _restore(ctx, previous, sink, resumed_at)
        raise
    finally:
        sink.close()
    if result.code != 0 or result.interrupted:
        _restore(ctx, previous, sink, resumed_at)
    if result.interrupted:
        raise StepInterrupted("step train interrupted; checkpoints are kept", hint="rerun the same command to resume")
    if result.code != 0:
        raise step_failed("train", argv, result.code, ctx.log, result.tail)
    return summary(ctx, resume_from, resumed_at, sink.parser.last)


def _restore(ctx: StepContext, previous: Path | None, sink: Any, resumed_at: int | None) -> None:
    """The new training never started: move what it made aside and the previous adapter back."""
    if previous is None or _started(sink, resumed_at, ctx.run.adapter):
        return
    if ctx.run.adapter.exists():
        supersede(ctx.run.root, ctx.run.adapter, "adapter-did-not-start")
    os.replace(previous, ctx.run.adapter)
    if not (ctx.run.adapter / MARKER).exists():
        _mark(ctx.run.adapter, None)  # not the new training's: never resumed as it
    ctx.say(f"the new training did not start; the previous adapter is back in {ctx.run.adapter}")


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
