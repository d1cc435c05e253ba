"""The train step: `accelerate launch -m axowrap.run.train_main axolotl.yaml` (Axolotl's
`axolotl.cli.train`, run/train_main.py) as a child process.

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


REQUIRED = ("adapter_model.safetensors", "adapter_config.json")


# A full fine-tune's weights, as transformers saves them: the first that exists is required.
WEIGHTS = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin")


def outputs(ctx: StepContext) -> list[Path]:
    """The trained model at the top of adapter/ (checkpoints are the trainer's own business):
    the adapter and its config (required) and the tokenizer as trained; for a full fine-tune
    `model_files`."""
    from axowrap.hub.upload import ADAPTER_FILES

    adapter = ctx.run.adapter
    if ctx.config.get("adapter"):
        extra = [adapter / n for n in ADAPTER_FILES if n not in REQUIRED and (adapter / n).is_file()]
        return [*(adapter / n for n in REQUIRED), *extra]
    return model_files(adapter)


def model_files(folder: Path) -> list[Path]:
    """A full fine-tune's saved model at the top of output_dir: config.json and its weights
    (required; a sharded model's index names its shards, which the record checks), then every
    other top-level file but logs, the training arguments, the card and axowrap's marker."""
    from axowrap.hub.upload import NOT_MODEL_FILES

    weights = next((folder / n for n in WEIGHTS if (folder / n).is_file()), folder / WEIGHTS[1])
    found = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    skip = {*NOT_MODEL_FILES, MARKER, "config.json", weights.name}
    return [folder / "config.json", weights, *(p for p in found if p.name not in skip)]


def command(ctx: StepContext) -> tuple[list[str], dict[str, str]]:
    """(argv, env changes) of the training launch for this run."""
    argv, env = launch_argv(ctx.spec, ctx.run.config)
    return argv, {**env, **reward_env(ctx)}


def reward_env(ctx: StepContext) -> dict[str, str]:
    """GRPO with the user's own reward functions: their modules sit beside the spec, so its
    folder goes first on the training process's PYTHONPATH (Axolotl imports them by name)."""
    from axowrap.objectives.rewards import MODULE

    funcs = (ctx.config.get("trl") or {}).get("reward_funcs") or []
    if all(str(f).startswith(MODULE + ".") for f in funcs):
        return {}
    folder = str(Path(load_manifest(ctx.run)["spec"]["path"]).parent)
    rest = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": folder + (os.pathsep + rest if rest else "")}


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
    from axowrap.tracking.runs import prepare
    from axowrap.tracking.runs import start as start_tracking

    if not ctx.dry_run:
        prepare(ctx.config)
        target = _target(ctx)
        machine_preflight(ctx, target)
        if target is not None:
            axolotl_preflight(ctx, target)
    argv, env = command(ctx)
    fingerprint = ctx.fingerprints.get("train")
    # The tracker runs of this training (created once, reused on resume): env that attaches to them.
    env = {**env, **start_tracking(ctx.run, ctx.config, fingerprint, create=not ctx.dry_run)}
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
        _backfill(ctx, resume_from)  # the runner may have died with the killed training
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
    if not result.interrupted:
        _backfill(ctx, None)  # its newest complete checkpoint
    if result.code != 0 or result.interrupted:
        _restore(ctx, previous, sink, resumed_at)
    if result.interrupted:
        raise StepInterrupted("step train interrupted; checkpoints are kept", hint="rerun the same command to resume")
    if result.code != 0:
        raise step_failed("train", argv, result.code, ctx.log, result.tail)
    return summary(ctx, resume_from, resumed_at, sink.parser.last)


def _backfill(ctx: StepContext, checkpoint: Path | None) -> None:
    """Make the MLflow run's per-step metrics whole from the checkpoint's own log (None: the
    newest complete one; tracking.runs.backfill): the trainer logs through a 1 s buffer, so a killed training loses its last
    second, and a resumed one loses a whole buffer when a parameter it logs again has changed
    (MLflow refuses the batch, metrics and all)."""
    from axowrap.tracking.runs import backfill, tracking_state

    if not (tracking_state(ctx.run).get("mlflow") or {}).get("run_id"):
        return  # no MLflow run: nothing to read the checkpoints for
    checkpoint = checkpoint or newest_complete(ctx.run.adapter).checkpoint
    if checkpoint is None:
        return
    try:
        logged = backfill(ctx.run, checkpoint)
    except Exception as exc:  # the tracker's problem never stops the training
        ctx.say(f"warning: tracking.mlflow: could not backfill the metrics up to {checkpoint.name}: {exc}")
        return
    if logged:
        ctx.say(f"tracking: {logged} metric values up to {checkpoint.name} that the MLflow run lacked, logged")


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
    lines = ["## Training", "", f"- adapter: `{ctx.run.adapter}`", f"- steps: {step}", *objective_lines(ctx)]
    if losses:
        lines.append(f"- loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    rewards = [h["reward"] for h in history if isinstance(h.get("reward"), int | float)]
    if rewards:  # GRPO: the mean weighted reward of each step's completions
        result["rewards_per_step"] = rewards
        lines.append(f"- mean reward per step: {', '.join(f'{r:.3g}' for r in rewards[:20])}")
    if resume_from:
        lines.append(f"- resumed from `{resume_from.name}`")
    if plot:
        lines += ["", "![loss](loss.png)"]
    result["report"] = "\n".join(lines) + "\n"
    return result


def objective_lines(ctx: StepContext) -> list[str]:
    """What was optimized (and GRPO's rewards with their weights) for the report."""
    from axowrap.objectives import objective_of
    from axowrap.spec.presets import get_preset

    lines = [f"- objective: {objective_of(get_preset(ctx.spec['task'])).title}"]
    rewards = ctx.spec.get("rewards") or {}
    if rewards:
        lines.append("- reward: " + " + ".join(f"{w:g} x `{name}`" for name, w in rewards.items()))
    return lines


STEP = Step(
    name="train",
    needs=(),
    enabled=lambda ctx: True,
    params=params,
    outputs=outputs,
    run=run,
    requires=("axolotl", "torch", "accelerate"),
)
