"""The runner: prepare a run directory for a spec, then run (or resume) its steps.

A step is skipped when it is done, its fingerprint (sha256 of its params + its upstream
steps' fingerprints) is unchanged and its outputs exist (DVC-style). A step that failed or
was interrupted with the same fingerprint resumes (ctx.options["resume"] is true for it);
one whose fingerprint changed starts fresh. Child processes run through `run_child`: own
process group, output teed to the step log, SIGINT/SIGTERM forwarded.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from axowrap import state as st
from axowrap.errors import AxowrapError, StepFailed, UsageError, ValidationFailed
from axowrap.rundir import RunDir
from axowrap.runlock import run_lock
from axowrap.steps import STEP_NAMES, Step, StepContext, available_steps
from axowrap.yamlio import atomic_write

if TYPE_CHECKING:
    from axowrap.spec import Spec

TAIL_LINES = 20
PREPARE_WAIT_S = 300.0  # preparing alone waits this long for a busy run directory
KILL_AFTER_S = 30.0  # after a forwarded Ctrl-C, the group gets SIGKILL if it has not exited


class StepInterrupted(AxowrapError):
    """Ctrl-C / SIGTERM stopped a step; the run can be resumed (exit 130)."""

    exit_code = 130


def canonical_sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_dir_for(spec_path: Path, name: str, runs_root: Path) -> RunDir:
    """runs/<name>-<8 hex of the spec's absolute path>: editing the spec reuses the run dir."""
    tag = hashlib.sha256(str(spec_path.resolve()).encode("utf-8")).hexdigest()[:8]
    return RunDir(runs_root.resolve() / f"{name}-{tag}")


def prepare_run(spec_path: Path, runs_root: Path = Path("runs")) -> RunDir:
    """Create/update the run directory of a spec: spec copy, data split, checked config, manifest.

    Raises ValidationFailed when the rendered config has errors: nothing is trained then.
    """
    spec, run = _locate(spec_path, runs_root)
    with run_lock(run.root, wait=PREPARE_WAIT_S):  # nodes of one job prepare the same directory: take turns
        _prepare(spec, run)
    return run


def _locate(spec_path: Path, runs_root: Path) -> tuple[Spec, RunDir]:
    """The loaded spec and its run directory."""
    from axowrap.spec import load_spec

    spec = load_spec(spec_path)
    return spec, run_dir_for(spec.path, spec.name, runs_root)


def _prepare(spec: Spec, run: RunDir) -> None:
    from axowrap.holdout import prepare_data
    from axowrap.launch.command import launch_argv
    from axowrap.manifest import build_manifest
    from axowrap.render import render_spec
    from axowrap.validate import rendered_problems

    prepared = prepare_data(spec, run)
    rendered = render_spec(
        spec, base_dir=None, dataset_paths=prepared.train_paths, output_dir=str(run.adapter.resolve())
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
        env=env,
    )
    atomic_write(run.manifest, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def open_run(path: Path) -> RunDir:
    """An existing run directory (one that `axowrap run` prepared)."""
    run = RunDir(path.resolve())
    if not run.manifest.is_file() or not run.config.is_file():
        raise UsageError(
            f"{path}: not a run directory (no manifest.json / axolotl.yaml)",
            hint="create it with `axowrap run SPEC` (or `--dry-run` to only prepare it)",
        )
    return run


def load_manifest(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads(run.manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(
            f"{run.manifest}: cannot read: {exc}", hint="rerun `axowrap run SPEC` to rewrite it"
        ) from None


def make_context(
    run: RunDir,
    name: str,
    *,
    echo: Callable[[str], None],
    json_events: bool,
    dry_run: bool,
    options: dict[str, Any],
    steps_state: dict[str, Any],
) -> StepContext:
    manifest = load_manifest(run)
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    return StepContext(
        run=run,
        spec=manifest["spec"]["effective"],
        config=config,
        log=run.log(name),
        echo=echo,
        json_events=json_events,
        state=steps_state,
        dry_run=dry_run,
        options=options,
    )


def select(steps: list[str] | None, from_step: str | None, ctx_for: Callable[[Step], StepContext]) -> list[Step]:
    """The steps to consider, in pipeline order: the named ones, or every enabled one."""
    known = {s.name: s for s in available_steps()}
    for name in [*(steps or []), *([from_step] if from_step else [])]:
        if name not in known:
            where = "not a step" if name not in STEP_NAMES else "not available in this version"
            raise UsageError(f"step {name!r}: {where}", hint=f"steps: {', '.join(known)}")
    if steps:
        return [s for n, s in known.items() if n in steps]
    chosen = [s for s in known.values() if s.enabled(ctx_for(s))]
    if from_step:
        start = list(known).index(from_step)
        chosen = [s for s in chosen if list(known).index(s.name) >= start]
    return chosen


def outputs_exist(paths: list[Path]) -> bool:
    return all(Path(p).exists() for p in paths)


def run_steps(
    run: RunDir,
    steps: list[str] | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    echo: Callable[[str], None] = print,
    json_events: bool = False,
    from_step: str | None = None,
) -> dict[str, Any]:
    """Run or resume steps on a prepared run directory; returns state.json's `steps` mapping."""
    with run_lock(run.root):
        return _run_steps(
            run,
            steps,
            force=force,
            dry_run=dry_run,
            options=options,
            echo=echo,
            json_events=json_events,
            from_step=from_step,
        )


def _run_steps(
    run: RunDir,
    steps: list[str] | None,
    *,
    force: bool,
    dry_run: bool,
    options: dict[str, Any] | None,
    echo: Callable[[str], None],
    json_events: bool,
    from_step: str | None,
) -> dict[str, Any]:
    state = st.load_state(run)
    done_state: dict[str, Any] = state["steps"]
    opts = dict(options or {})

    def ctx_for(step: Step) -> StepContext:
        return make_context(
            run, step.name, echo=echo, json_events=json_events, dry_run=dry_run, options=opts, steps_state=done_state
        )

    fingerprints: dict[str, str] = {}
    for step in available_steps():  # every step's fingerprint, so downstream ones see upstream changes
        fingerprints[step.name] = canonical_sha256(
            {
                "step": step.name,
                "params": step.params(ctx_for(step)),
                "needs": {n: fingerprints.get(n) for n in step.needs},
            }
        )
    chosen = select(steps, from_step, ctx_for)
    chosen_names = {s.name for s in chosen}
    ran_any = False
    would_run: set[str] = set()  # --dry-run: the steps that would run, for their downstreams
    for step in chosen:
        ctx = ctx_for(step)
        fp = fingerprints[step.name]
        prev = done_state.get(step.name, {})
        for need in step.needs:
            upstream = done_state.get(need, {})
            if (
                need not in chosen_names
                and not dry_run
                and (upstream.get("status") != st.DONE or upstream.get("fingerprint") != fingerprints[need])
            ):
                raise AxowrapError(
                    f"step {step.name} needs {need}, which is not done for the current spec",
                    hint=f"run `axowrap {need} {run.root}` first, or leave out --steps",
                )
        current = prev.get("status") == st.DONE and prev.get("fingerprint") == fp
        if current and not force and outputs_exist(step.outputs(ctx)):
            _say(echo, json_events, step.name, "skipped", "up to date")
            continue
        ctx.options["resume"] = (
            not force
            and prev.get("fingerprint") == fp
            and prev.get("status") in (st.FAILED, st.INTERRUPTED, st.RUNNING)
        )
        _say(
            echo, json_events, step.name, "dry-run" if dry_run else "start", "resuming" if ctx.options["resume"] else ""
        )
        if dry_run:
            try:
                step.run(ctx)
            except AxowrapError as exc:
                pending = [n for n in step.needs if n in would_run]
                if not pending:
                    raise
                # Its inputs do not exist yet: an upstream step would make them in a real run.
                _say(echo, json_events, step.name, f"would run after {', '.join(pending)}", exc.message)
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
            pid=None,
        )
        try:
            result = step.run(ctx)
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
        done_state[step.name] = st.update_step(run, step.name, status=st.DONE, ended=st.now(), result=result, pid=None)
        _say(echo, json_events, step.name, "done", "")
    _finish(run, ran_any)
    return done_state


def _say(echo: Callable[[str], None], json_events: bool, step: str, event: str, detail: str) -> None:
    if json_events:
        echo(json.dumps({"step_name": step, "event": event, "detail": detail}))
    else:
        echo(f"==> {step}: {event}{' (' + detail + ')' if detail else ''}")


def _finish(run: RunDir, ran_any: bool) -> None:
    if ran_any:
        from axowrap.report import write_report

        write_report(run)


def step_failed(step: str, argv: list[str], code: int, log: Path, tail: list[str]) -> StepFailed:
    """The error for a failed child process: step, command, exit code, log tail, log path."""
    shown = "\n    ".join(tail) if tail else "(no output)"
    exc = StepFailed(
        f"step {step} failed: exit code {code} from `{shlex.join(argv)}`",
        hint=f"last lines of the log:\n    {shown}\n  full log: {log}",
    )
    exc.details = {"argv": argv, "exit_code": code, "log": str(log), "tail": tail}  # type: ignore[attr-defined]
    return exc


def run_child(
    argv: list[str],
    *,
    env: dict[str, str],
    log: Path,
    on_record: Callable[[str], None],
    cwd: Path | None = None,
    on_start: Callable[[int], None] | None = None,
) -> tuple[int, bool, list[str]]:
    """Run argv in its own process group, tee its output to `log` (appended) and to `on_record`
    (one call per line or tqdm refresh). SIGINT/SIGTERM are forwarded to the whole group.

    Returns (exit code, interrupted, last lines).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    interrupted = threading.Event()
    with log.open("ab") as out:
        out.write(f"\n===== axowrap {st.now()}: {shlex.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
        )
        if on_start:
            on_start(proc.pid)
        killer: list[threading.Timer] = []

        def forward(signum: int, _frame: Any) -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL if interrupted.is_set() else signum)
            except ProcessLookupError:
                pass
            if not interrupted.is_set():
                interrupted.set()
                timer = threading.Timer(KILL_AFTER_S, _kill_group, (proc.pid,))
                timer.daemon = True
                timer.start()
                killer.append(timer)

        in_main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
        try:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pending = ""
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            while chunk := os.read(fd, 65536):
                out.write(chunk)
                out.flush()
                pending += decoder.decode(chunk)
                *records, pending = _split(pending)
                for rec in records:
                    _take(rec, tail, on_record)
            if pending:
                _take(pending, tail, on_record)
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for timer in killer:
                timer.cancel()
            if proc.poll() is None:  # we are leaving abnormally: leave no training behind
                _kill_group(proc.pid)
                proc.wait()
    return code, interrupted.is_set(), list(tail)


def _split(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def _take(record: str, tail: deque[str], on_record: Callable[[str], None]) -> None:
    if record.strip():
        tail.append(record.rstrip())
    on_record(record)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_spec(spec_path: Path, *, runs_root: Path = Path("runs"), **kwargs: Any) -> tuple[RunDir, dict[str, Any]]:
    """`axowrap run`: validate + prepare the run directory, then run/resume its steps."""
    spec, run = _locate(spec_path, runs_root)
    with run_lock(run.root):  # held from preparation to the last step
        _prepare(spec, run)
        return run, run_steps(run, **kwargs)


def run_status(run: RunDir) -> list[dict[str, Any]]:
    """One row per step: status, times, outputs, error; steps never run are `pending`."""
    from axowrap.steps import available_steps

    steps = st.load_state(run)["steps"]
    rows = []
    for name in [s.name for s in available_steps()] + [n for n in steps if n not in STEP_NAMES]:
        entry = dict(steps.get(name) or {"status": "pending"})
        if entry.get("status") == st.RUNNING and entry.get("pid") and not _alive(entry["pid"]):
            entry["status"] = "crashed"  # the runner itself died (SIGKILL, power loss): resumable
        rows.append({"step": name, **entry})
    return rows


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
