"""The runner: prepare a run directory for a spec, then run (or resume) its steps.

A step is skipped when it is done, its fingerprint (sha256 of its params + its upstream
steps' fingerprints and the hashes of their recorded outputs) is unchanged and its outputs are
still as recorded (DVC-style; axowrap.run.outputs). A step counts as done only once its
outputs were checked whole, fsynced and hashed. A step that failed or
was interrupted with the same fingerprint resumes (ctx.options["resume"] is true for it);
one whose fingerprint changed starts fresh. The steps are an argument (default: the
registry's), so tests can run the runner on steps of their own. Steps start child processes
through axowrap.run.child and report through axowrap.run.events.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axowrap.errors import AxowrapError, StepInterrupted, UsageError, ValidationFailed
from axowrap.hashing import canonical_sha256, text_sha256
from axowrap.run import state as st
from axowrap.run.child import child_env, still_running
from axowrap.run.events import Events
from axowrap.run.manifest import load_manifest
from axowrap.run.outputs import digest, record, verify
from axowrap.run.rundir import RunDir
from axowrap.run.runlock import run_lock
from axowrap.steps.base import Step, StepContext
from axowrap.steps.registry import STEPS
from axowrap.validate import load_spec, rendered_problems
from axowrap.yamlio import atomic_write

if TYPE_CHECKING:
    from axowrap.spec.model import Spec
    from axowrap.spec.overrides import Override

PREPARE_WAIT_S = 300.0  # preparing alone waits this long for a busy run directory


def run_dir_for(spec_path: Path, name: str, runs_root: Path, trained: Sequence[Override] = ()) -> RunDir:
    """runs/<name>-<8 hex>: of the spec's absolute path (editing the spec reuses the run dir),
    and of the `--set` overrides that change what is trained (`trained_overrides`), if any."""
    key = str(spec_path.resolve())
    if trained:
        key += "\n" + json.dumps([[o.key, o.value] for o in trained], sort_keys=True, default=str)
    tag = text_sha256(key)[:8]
    return RunDir(runs_root.resolve() / f"{name}-{tag}")


def _training_identity(spec: Spec) -> str:
    """What is trained: the rendered config but the keys that cannot change the weights, and
    which rows are held out."""
    from axowrap.config.render import render_spec
    from axowrap.steps.train import NOT_WEIGHTS

    config = render_spec(spec, base_dir=None).config
    ev = spec.data.get("eval") or {}
    return canonical_sha256(
        {
            "config": {k: v for k, v in config.items() if k not in NOT_WEIGHTS},
            "holdout": [ev.get("holdout"), ev.get("holdout_file")],
        }
    )


def trained_overrides(spec: Spec) -> tuple[Override, ...]:
    """The spec's overrides that change what is trained: without each, is the training the same?
    (`--set export.gguf=[q8_0]` is not one of them: it shares the spec's run directory.)"""
    from axowrap.spec.read import read_spec

    if not spec.overrides:
        return ()
    full = _training_identity(spec)
    out = []
    for override in spec.overrides:
        rest = tuple(o for o in spec.overrides if o is not override)
        try:
            same = _training_identity(read_spec(spec.path, rest)) == full
        except AxowrapError:  # meaningless without it: it belongs to what is trained
            same = False
        if not same:
            out.append(override)
    return tuple(out)


def prepare_run(
    spec_path: Path,
    runs_root: Path = Path("runs"),
    *,
    overrides: tuple[Override, ...] = (),
    max_rows: int | None = None,
) -> RunDir:
    """Create/update the run directory of a spec: spec copy, data split, checked config, manifest.

    Raises ValidationFailed when the rendered config has errors: nothing is trained then.
    `max_rows`: read only the first N rows of each dataset (`run --max-rows`).
    """
    spec, run = _locate(spec_path, runs_root, overrides)
    with run_lock(run.root, wait=PREPARE_WAIT_S):  # nodes of one job prepare the same directory: take turns
        _prepare(spec, run, max_rows=max_rows)
    return run


def _locate(spec_path: Path, runs_root: Path, overrides: tuple[Override, ...] = ()) -> tuple[Spec, RunDir]:
    """The loaded spec (with its overrides) and its run directory."""
    spec = load_spec(spec_path, overrides=overrides)
    return spec, run_dir_for(spec.path, spec.name, runs_root, trained_overrides(spec))


def locate_run(spec_path: Path, runs_root: Path, overrides: tuple[Override, ...] = ()) -> RunDir:
    """The run directory `axowrap run SPEC [--set ...]` uses (the spec is validated)."""
    return _locate(spec_path, runs_root, overrides)[1]


def _shared_copy(path: Path, shared: Path) -> Path:
    """The training split at `path`, copied once into a sweep's shared data folder under a
    name holding its sha256: the same rows get the same path, so Axolotl's prepared-data hash
    (which covers the path, not the content) matches and one tokenization serves every point."""
    import shutil

    from axowrap.hashing import file_sha256

    dest = shared / f"{path.stem}-{file_sha256(path)[:16]}{path.suffix}"
    if not dest.is_file():
        tmp = dest.with_name(f".{dest.name}.tmp")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, tmp)
        tmp.replace(dest)
    return dest


def _prepare(
    spec: Spec, run: RunDir, shared: Path | None = None, *, max_rows: int | None = None, progress: bool = True
) -> None:
    from axowrap.config.render import render_spec
    from axowrap.data.split import prepare_data
    from axowrap.objectives.trainer_data import trainer_rows
    from axowrap.run.launch import launch_argv
    from axowrap.run.manifest import build_manifest

    prepared = prepare_data(
        spec, run.data, lambda i, rows: trainer_rows(spec, i, rows), max_rows=max_rows, progress=progress
    )
    train_paths = prepared.train_paths
    if shared is not None:  # a sweep: points with the same rows share them and Axolotl's prepared data
        train_paths = [_shared_copy(p, shared / "data") for p in train_paths]
    rendered = render_spec(
        spec,
        base_dir=None,
        dataset_paths=train_paths,
        output_dir=str(run.adapter.resolve()),
        prepared_dir=str((shared / "prepared").resolve()) if shared is not None else None,
        dest=run.config,
    )
    problems = rendered_problems(spec, rendered, deep=False)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    atomic_write(run.spec, spec.doc.text)
    atomic_write(run.config, rendered.text)
    _, env = launch_argv(spec.data, run.config)
    data = prepared.to_json()
    data["sources"] = [str(entry["path"]) for entry in spec.data["datasets"]]
    manifest = build_manifest(
        spec_path=spec.path.resolve(),
        spec_sha256=spec.sha256,
        spec_effective=spec.data,
        config_text=rendered.text,
        config=rendered.config,
        data=data,
        env=child_env(env),
        overrides=[o.to_json() for o in spec.overrides],
        shared_data=str(shared.resolve()) if shared is not None else None,
    )
    atomic_write(run.manifest, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def make_context(
    run: RunDir,
    step: Step,
    *,
    events: Events,
    dry_run: bool,
    options: dict[str, Any],
    steps_state: dict[str, Any],
    fingerprints: dict[str, str] | None = None,
) -> StepContext:
    from axowrap.run.records import load_config

    manifest = load_manifest(run)
    return StepContext(
        name=step.name,
        run=run,
        spec=manifest["spec"]["effective"],
        config=load_config(run, manifest),
        log=run.log(step.name),
        events=events,
        state=steps_state,
        dry_run=dry_run,
        options=options,
        fingerprints={} if fingerprints is None else fingerprints,
    )


def select(
    steps: Sequence[Step], names: list[str] | None, from_step: str | None, ctx_for: Callable[[Step], StepContext]
) -> list[Step]:
    """The steps to consider, in pipeline order: the named ones, or every enabled one."""
    known = {s.name: s for s in steps}
    for name in [*(names or []), *([from_step] if from_step else [])]:
        if name not in known:
            raise UsageError(f"step {name!r}: not a step", hint=f"steps: {', '.join(known)}")
    if names:
        return [s for n, s in known.items() if n in names]
    chosen = [s for s in known.values() if s.enabled(ctx_for(s))]
    if from_step:
        start = list(known).index(from_step)
        chosen = [s for s in chosen if list(known).index(s.name) >= start]
    return chosen


def upstream(entry: dict[str, Any] | None, fingerprint: str | None) -> dict[str, Any]:
    """What a downstream fingerprint takes from an upstream step: its fingerprint and the hash
    of the outputs it recorded (so `train --force` changes what `merge` is made from)."""
    return {"fingerprint": fingerprint, "outputs": digest((entry or {}).get("recorded"))}


def compute_fingerprints(
    steps: Sequence[Step], ctx_for: Callable[[Step], StepContext], state: dict[str, Any], into: dict[str, str]
) -> dict[str, str]:
    """Every step's fingerprint, in pipeline order, from the state recorded now (into `into`)."""
    for step in steps:
        into[step.name] = canonical_sha256(
            {
                "step": step.name,
                "params": step.params(ctx_for(step)),
                "needs": {n: upstream(state.get(n), into.get(n)) for n in step.needs},
            }
        )
    return into


def adopt(run: RunDir, name: str, result: dict[str, Any], steps: Sequence[Step] = STEPS) -> dict[str, Any]:
    """Record step `name` as done for the current spec with the outputs now on disk (checked
    and hashed like a step the runner ran): for outputs made outside the runner, and tests."""
    state = st.load_state(run)["steps"]
    fingerprints: dict[str, str] = {}
    first = make_context(
        run, steps[0], events=Events(), dry_run=False, options={}, steps_state=state, fingerprints=fingerprints
    )

    def ctx_for(step: Step) -> StepContext:
        return dataclasses.replace(first, name=step.name, log=run.log(step.name))

    compute_fingerprints(steps, ctx_for, state, fingerprints)
    step = next(s for s in steps if s.name == name)
    outs = step.outputs(ctx_for(step))
    recorded = record(name, outs, run.root) if outs else {}
    return st.update_step(
        run,
        name,
        status=st.DONE,
        fingerprint=fingerprints[name],
        started=st.now(),
        ended=st.now(),
        result=result,
        outputs=sorted(recorded),
        recorded=recorded,
        pid=None,
    )


def run_steps(
    run: RunDir,
    names: list[str] | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    events: Events | None = None,
    from_step: str | None = None,
    steps: Sequence[Step] = STEPS,
) -> dict[str, Any]:
    """Run or resume steps on a prepared run directory; returns state.json's `steps` mapping.
    `names`: only these steps (default: every enabled one); `steps`: the pipeline."""
    from axowrap.tracking import worker

    with run_lock(run.root):
        try:
            return _run_steps(
                run,
                names,
                force=force,
                dry_run=dry_run,
                options=options,
                events=events or Events(),
                from_step=from_step,
                steps=steps,
            )
        finally:
            worker.close()  # the train step may have started it (tracking.runs.prepare)


def _run_steps(
    run: RunDir,
    names: list[str] | None,
    *,
    force: bool,
    dry_run: bool,
    options: dict[str, Any] | None,
    events: Events,
    from_step: str | None,
    steps: Sequence[Step],
) -> dict[str, Any]:
    state = st.load_state(run)
    done_state: dict[str, Any] = state["steps"]
    opts = dict(options or {})
    fingerprints: dict[str, str] = {}
    first = make_context(
        run, steps[0], events=events, dry_run=dry_run, options=opts, steps_state=done_state, fingerprints=fingerprints
    )

    def ctx_for(step: Step) -> StepContext:
        return dataclasses.replace(first, name=step.name, log=run.log(step.name))

    def refresh() -> None:  # from what is recorded now (earlier steps may just have run)
        compute_fingerprints(steps, ctx_for, done_state, fingerprints)

    refresh()
    chosen = select(steps, names, from_step, ctx_for)
    chosen_names = {s.name for s in chosen}
    ran_any = False
    would_run: set[str] = set()  # --dry-run: the steps that would run, for their downstreams
    for step in chosen:
        refresh()
        ctx = ctx_for(step)
        fp = fingerprints[step.name]
        prev = done_state.get(step.name, {})
        for need in step.needs:
            upstream_entry = done_state.get(need, {})
            if need in chosen_names or dry_run:
                continue
            if upstream_entry.get("status") != st.DONE or upstream_entry.get("fingerprint") != fingerprints[need]:
                raise AxowrapError(
                    f"step {step.name} needs {need}, which is not done for the current spec",
                    hint=f"run `axowrap {need} {run.root}` first, or leave out --steps",
                )
            changed = verify(upstream_entry.get("recorded") or {}, run.root)
            if changed:
                raise AxowrapError(
                    f"step {step.name} needs {need}, whose outputs changed since it ran: {changed[0]}",
                    hint=f"run `axowrap {need} {run.root}` again",
                )
        changed = verify(prev.get("recorded") or {}, run.root) if prev.get("status") == st.DONE else []
        current = prev.get("status") == st.DONE and prev.get("fingerprint") == fp and "recorded" in prev
        if current and not force and not changed:
            events.emit(step.name, "skipped", "up to date")
            continue
        if current and changed:
            events.emit(step.name, "redo", f"its outputs changed since it ran ({changed[0]})")
        if prev.get("status") == st.RUNNING and not dry_run:
            busy = still_running(prev.get("pid"))
            if busy:
                raise AxowrapError(
                    f"step {step.name} is still running as {busy}, started by an earlier axowrap that is gone",
                    hint=f"wait for it to end, or stop it: `kill -- -{prev['pid']}`; then rerun",
                )
        ctx.options["resume"] = (
            not force
            and prev.get("fingerprint") == fp
            and prev.get("status") in (st.FAILED, st.INTERRUPTED, st.RUNNING)
        )
        events.emit(step.name, "dry-run" if dry_run else "start", "resuming" if ctx.options["resume"] else "")
        if dry_run:
            try:
                step.run(ctx)
            except AxowrapError as exc:
                pending = [n for n in step.needs if n in would_run]
                if not pending:
                    raise
                # Its inputs do not exist yet: an upstream step would make them in a real run.
                events.emit(step.name, f"would run after {', '.join(pending)}", exc.message)
            would_run.add(step.name)
            continue
        ran_any = True
        done_state[step.name] = st.update_step(
            run,
            step.name,
            status=st.RUNNING,
            fingerprint=fp,
            started=st.now(),
            ended=None,
            error=None,
            outputs=[str(p) for p in step.outputs(ctx)],
            recorded=None,
            pid=None,
        )
        try:
            result = step.run(ctx)
            outs = step.outputs(ctx)
            recorded = record(step.name, outs, run.root) if outs else {}
        except (StepInterrupted, KeyboardInterrupt) as exc:
            done_state[step.name] = st.update_step(run, step.name, status=st.INTERRUPTED, ended=st.now(), pid=None)
            _finish(run, ran_any)
            if isinstance(exc, KeyboardInterrupt):
                raise StepInterrupted(
                    f"step {step.name} interrupted", hint="rerun the same command to resume"
                ) from None
            raise
        except AxowrapError as exc:
            error = {"message": exc.message, "hint": exc.hint, **getattr(exc, "details", {})}
            done_state[step.name] = st.update_step(
                run, step.name, status=st.FAILED, ended=st.now(), error=error, pid=None
            )
            _finish(run, ran_any)
            raise
        except Exception as exc:  # a bug, not a user error: still recorded, then the CLI's last resort
            error = {"message": f"unexpected {type(exc).__name__}: {exc}"}
            done_state[step.name] = st.update_step(
                run, step.name, status=st.FAILED, ended=st.now(), error=error, pid=None
            )
            raise
        done_state[step.name] = st.update_step(
            run,
            step.name,
            status=st.DONE,
            ended=st.now(),
            result=result,
            outputs=sorted(recorded),
            recorded=recorded,
            pid=None,
        )
        events.emit(step.name, "done")
    _finish(run, ran_any)
    return done_state


def _finish(run: RunDir, ran_any: bool) -> None:
    if ran_any:
        from axowrap.run.report import write_report
        from axowrap.tracking.runs import finish

        write_report(run)
        if finish(run):  # logged to the tracker runs; a failure to log is recorded in report.md
            write_report(run)


def retarget(spec: Spec, text: str) -> None:
    """Run the spec on another machine class than `compute:` says (`run --target cpu`, the
    spec's own `targets:` included): the spec's rules are checked again for it (a 4-bit QLoRA
    cannot run on a CPU)."""
    from axowrap.rules import check_rules

    target = spec.target(text)
    compute = {**spec.data["compute"], "target": target.name, "gpus_per_node": target.gpus, "nodes": target.nodes}
    if target.is_cpu:  # ZeRO and FSDP need GPUs; one CPU process trains plainly
        compute.update(strategy="ddp", offload="none")
    spec.data["compute"] = compute
    problems = [p for p in check_rules(spec, skip=("dataset_rows",)) if p.severity == "error"]
    if problems:
        raise ValidationFailed(problems)


def run_spec(
    spec_path: Path,
    *,
    runs_root: Path = Path("runs"),
    overrides: tuple[Override, ...] = (),
    shared: Path | None = None,
    max_rows: int | None = None,
    target: str | None = None,
    **kwargs: Any,
) -> tuple[RunDir, dict[str, Any]]:
    """`axowrap run`: validate + prepare the run directory, then run/resume its steps.
    `overrides`: `--set` values; `shared`: a sweep's folder for data shared by its points;
    `max_rows`: read only the first N rows of each dataset (a quick try); `target`: the machine
    class to render for instead of the spec's `compute.target`."""
    spec, run = _locate(spec_path, runs_root, overrides)
    if target is not None:
        retarget(spec, target)
    with run_lock(run.root):  # held from preparation to the last step
        events = kwargs.get("events")
        _prepare(spec, run, shared, max_rows=max_rows, progress=not (events is not None and events.json_lines))
        return run, run_steps(run, **kwargs)


def run_status(run: RunDir, steps: Sequence[Step] = STEPS) -> list[dict[str, Any]]:
    """One row per step: status, times, outputs, error; steps never run are `pending`."""
    recorded = st.load_state(run)["steps"]
    known = [s.name for s in steps]
    rows = []
    for name in known + [n for n in recorded if n not in known]:
        entry = dict(recorded.get(name) or {})
        entry.setdefault("status", "pending")  # never ran, or its record holds no status yet
        if entry.get("status") == st.RUNNING and entry.get("pid") and not still_running(entry["pid"]):
            entry["status"] = "crashed"  # the runner itself died (SIGKILL, power loss): resumable
        rows.append({"step": name, **entry})
    return rows
