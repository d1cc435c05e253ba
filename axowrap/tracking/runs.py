"""One tracker run per run directory and training: created (MLflow) or named (W&B) before the
training starts, its id kept in state.json under `tracking` and given to every launch of that
training (MLFLOW_RUN_ID, WANDB_RUN_ID + WANDB_RESUME=allow, one TensorBoard log folder), so a
resumed training logs into the same run. A new training (another train fingerprint) gets new
tracker runs. At the end of a pipeline run, the spec, the rendered config, the manifest, the
eval results and report, the gate verdict and report.md are logged to each tracker run.

    state.json: {"tracking": {"fingerprint": "...", "mlflow": {"run_id", "experiment_id",
                 "tracking_uri"}, "wandb": {"id", "project", "entity", "mode", "dir"},
                 "tensorboard": {"dir"}, "logged": {...}, "error": "..."}}
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.run.rundir import RunDir
from axowrap.run.state import load_state, save_state
from axowrap.telemetry import TELEMETRY_OFF
from axowrap.tracking.keys import local_store

FOLDER = "tracking"  # <run>/tracking: W&B's files, TensorBoard's event files
BUFFERING = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"


def tracking_state(run: RunDir) -> dict[str, Any]:
    return dict(load_state(run).get("tracking") or {})


def _save(run: RunDir, data: dict[str, Any]) -> None:
    state = load_state(run)
    state["tracking"] = data
    save_state(run, state)


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses a file store unless MLFLOW_ALLOW_FILE_STORE is set: the spec asked for one."""
    if not local_store(uri) or os.environ.get("MLFLOW_ALLOW_FILE_STORE"):
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def prepare(config: dict[str, Any]) -> None:
    """Before the train step's preflight: start the tracking worker, which imports mlflow on
    another core while the runner checks the config (worker.py)."""
    if config.get("use_mlflow"):
        from axowrap.tracking import worker

        worker.warm()


def start(run: RunDir, config: dict[str, Any], fingerprint: str | None, *, create: bool = True) -> dict[str, str]:
    """The environment that attaches the training to this run directory's tracker runs,
    creating them first when this training has none (`create` false: a dry run, nothing made)."""
    data = tracking_state(run)
    if data.get("fingerprint") != fingerprint:  # another training: other tracker runs
        data = {"fingerprint": fingerprint}
    env: dict[str, str] = {}
    folder = run.root / FOLDER
    if config.get("use_wandb"):
        wb = data.setdefault("wandb", {"id": uuid.uuid4().hex[:12]})
        wb.update(
            project=config.get("wandb_project"),
            entity=config.get("wandb_entity"),
            mode=config.get("wandb_mode") or os.environ.get("WANDB_MODE") or "online",
            dir=str(folder),
        )
        # The child's environment disables W&B unless told otherwise: the spec enabled it.
        env.update(WANDB_RUN_ID=wb["id"], WANDB_RESUME="allow", WANDB_DIR=str(folder), WANDB_MODE=wb["mode"])
        if create:
            folder.mkdir(parents=True, exist_ok=True)
    if config.get("use_mlflow"):
        uri = str(config["mlflow_tracking_uri"])
        experiment = str(config.get("mlflow_experiment_name") or run.root.name)
        ml = data.setdefault("mlflow", {"tracking_uri": uri, "experiment": experiment})
        if "run_id" not in ml and create:
            ml["run_id"], ml["experiment_id"] = _mlflow(
                "_mlflow_run", uri, experiment, config.get("mlflow_run_name"), str(run.root)
            )
        env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT_NAME=experiment)
        # transformers logs metrics asynchronously; MLflow's logging thread then idles up to 1 s
        # in `queue.get(timeout=1)` when the run ends, unless it buffers (it then waits on its
        # stop event). What the buffer loses is backfilled (`backfill`, after every training and on resume).
        env[BUFFERING] = os.environ.get(BUFFERING) or "1"
        env["MLFLOW_RUN_ID"] = ml.get("run_id") or "<created when the training starts>"
        if local_store(uri):
            env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    if config.get("use_tensorboard"):
        tb = data.setdefault("tensorboard", {"dir": str(folder / "tensorboard")})
        env["TENSORBOARD_LOGGING_DIR"] = tb["dir"]
    if create and len(data) > 1:
        _save(run, data)
    return env


def _mlflow(name: str, *args: Any) -> Any:
    """runs.<name>(*args) in the tracking worker when one is warm (worker.py), else here."""
    from axowrap.tracking import worker

    done, result = worker.call(name, *args)
    if done:
        return result
    os.environ.update(TELEMETRY_OFF)  # before `import mlflow` here, as in the worker's process
    return globals()[name](*args)


def _mlflow_run(uri: str, experiment: str, name: Any, root: str) -> tuple[str, str]:
    try:
        with _file_store_allowed(uri):
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else client.create_experiment(experiment)
            created = client.create_run(
                experiment_id, run_name=str(name) if name else None, tags={"axowrap.run_dir": root}
            )
    except ImportError:
        raise AxowrapError(
            "tracking.mlflow: the mlflow package is not installed", hint="pip install mlflow-skinny"
        ) from None
    except Exception as exc:  # the store refused: unreachable server, bad URI, permissions
        raise AxowrapError(
            f"tracking.mlflow: cannot create a run in {uri}: {str(exc).splitlines()[0][:300]}",
            hint="check tracking.mlflow.tracking_uri (`axowrap validate --deep` checks the server)",
        ) from None
    return str(created.info.run_id), str(experiment_id)


def backfill(run: RunDir, checkpoint: Path) -> int:
    """Before a resumed training: log into its MLflow run the metrics of the steps up to the
    checkpoint it resumes from (the checkpoint's trainer_state.json log_history) that the run
    lacks. A training killed hard loses what MLflow's logging thread still held; the resumed
    training starts after the checkpoint and never logs those steps again. Returns the number
    of values logged."""
    ml = tracking_state(run).get("mlflow") or {}
    state = checkpoint / "trainer_state.json"
    if not ml.get("run_id") or not state.is_file():
        return 0
    history = json.loads(state.read_text(encoding="utf-8")).get("log_history") or []
    return int(_mlflow("backfill_mlflow", ml["tracking_uri"], ml["run_id"], history))


def backfill_mlflow(uri: str, run_id: str, history: list[dict[str, Any]]) -> int:
    import re
    import time

    with _file_store_allowed(uri):
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        have: dict[str, set[int]] = {}
        missing = []
        now = int(time.time() * 1000)
        for entry in history:
            step = entry.get("step")
            if not isinstance(step, int):
                continue
            for key, value in entry.items():
                if key == "step" or not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                # named as transformers' MLflowCallback.on_log names it (its sanitizing regex)
                name = re.sub(r"[^0-9A-Za-z_\-\.\ :/]", "_", key)
                if name not in have:
                    have[name] = {m.step for m in client.get_metric_history(run_id, name)}
                if step not in have[name]:
                    missing.append(Metric(name, float(value), now, step))
                    have[name].add(step)
        for start in range(0, len(missing), 1000):  # MLflow's limit of metrics per batch
            client.log_batch(run_id, metrics=missing[start : start + 1000])
    return len(missing)


# --- where to see them --------------------------------------------------------------------------


def links(data: dict[str, Any]) -> list[str]:
    """One line per tracker run: where it can be seen."""
    out = []
    ml = data.get("mlflow") or {}
    if ml.get("run_id"):
        uri = str(ml["tracking_uri"])
        if uri.startswith(("http://", "https://")):
            out.append(f"MLflow run: {uri.rstrip('/')}/#/experiments/{ml['experiment_id']}/runs/{ml['run_id']}")
        else:
            out.append(
                f"MLflow run: {ml['run_id']} (experiment {ml['experiment']!r}) in {uri}: "
                f"`mlflow ui --backend-store-uri {uri}`"
            )
    wb = data.get("wandb") or {}
    if wb.get("id"):
        if wb.get("mode") == "offline":
            out.append(
                f"W&B run: {wb['id']} (offline, in {wb['dir']}/wandb): `wandb sync {wb['dir']}/wandb/offline-run-*`"
            )
        else:
            entity = wb.get("entity") or "<your entity>"
            out.append(f"W&B run: https://wandb.ai/{entity}/{wb['project']}/runs/{wb['id']}")
    tb = data.get("tensorboard") or {}
    if tb.get("dir"):
        out.append(f"TensorBoard: `tensorboard --logdir {tb['dir']}`")
    return out


# --- at the end: the run's files and results ------------------------------------------------------


def _files(run: RunDir) -> list[Path]:
    candidates = [run.spec, run.config, run.manifest, run.report, run.eval / "results.json", run.eval / "report.md"]
    return [p for p in candidates if p.is_file()]


def _results(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads((run.eval / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _numbers(results: dict[str, Any]) -> dict[str, float]:
    out = {}
    for metric, values in (results.get("metrics") or {}).items():
        for model, value in (values or {}).items() if isinstance(values, dict) else []:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"eval/{metric}/{model}"] = float(value)
    return out


def _params(run: RunDir) -> dict[str, str]:
    manifest = json.loads(run.manifest.read_text(encoding="utf-8")) if run.manifest.is_file() else {}
    spec = (manifest.get("spec") or {}).get("effective") or {}
    return {
        "axowrap.task": str(spec.get("task")),
        "axowrap.method": str(spec.get("method")),
        "axowrap.base_model": str(spec.get("base_model")),
        "axowrap.spec_sha256": str((manifest.get("spec") or {}).get("sha256")),
        "axowrap.config_sha256": str((manifest.get("config") or {}).get("sha256")),
    }


def finish(run: RunDir) -> list[str]:
    """Log the run's files, parameters, eval metrics and gate verdict to its tracker runs; the
    problems met, one line each (a tracker that cannot be reached never fails the pipeline)."""
    data = tracking_state(run)
    if len(data) <= 1:
        return []
    results = _results(run)
    gate = results.get("gate") or {}
    verdict = (
        "" if not gate else ("passed" if gate.get("passed") else "failed: " + "; ".join(gate.get("failures") or []))
    )
    problems = []
    loggers: dict[str, Callable[[dict[str, Any]], object]] = {
        "mlflow": lambda ml: _mlflow("_finish_mlflow", str(run.root), ml, results, verdict),
        "wandb": lambda wb: _finish_wandb(run, wb, results, verdict),
        "tensorboard": lambda tb: _finish_tensorboard(run, tb, results, verdict),
    }
    for name, log in loggers.items():
        if (data.get(name) or {}) and (name != "mlflow" or data[name].get("run_id")):
            try:
                log(data[name])
            except Exception as exc:  # a tracker's failure is reported, the run's results stand
                problems.append(f"tracking.{name}: could not log the run's files: {str(exc).splitlines()[0][:300]}")
    data["logged"] = {"files": [p.name for p in _files(run)], "gate": verdict or None}
    if problems:
        data["error"] = "; ".join(problems)
    else:
        data.pop("error", None)
    _save(run, data)
    return problems


def _finish_mlflow(root: str, ml: dict[str, Any], results: dict[str, Any], verdict: str) -> None:
    run = RunDir(Path(root))
    with _file_store_allowed(ml["tracking_uri"]):
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=ml["tracking_uri"])
        run_id = ml["run_id"]
        logged = client.get_run(run_id).data.params
        params = [Param(k, v) for k, v in _params(run).items() if k not in logged]
        metrics = [Metric(k, v, 0, 0) for k, v in _numbers(results).items()]
        tags = [RunTag("axowrap.gate", verdict)] if verdict else []
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        for path in _files(run):
            client.log_artifact(
                run_id, str(path), artifact_path="axowrap" if path.parent == run.root else "axowrap/eval"
            )


def _finish_wandb(run: RunDir, wb: dict[str, Any], results: dict[str, Any], verdict: str) -> None:
    import wandb

    session = wandb.init(
        id=wb["id"],
        resume="allow",
        project=wb.get("project"),
        entity=wb.get("entity"),
        mode=wb.get("mode") or "online",
        dir=wb["dir"],
    )
    try:
        session.config.update(_params(run), allow_val_change=True)
        session.summary.update({**_numbers(results), **({"axowrap.gate": verdict} if verdict else {})})
        for path in _files(run):
            session.save(str(path), base_path=str(run.root), policy="now")
    finally:
        session.finish()


def _finish_tensorboard(run: RunDir, tb: dict[str, Any], results: dict[str, Any], verdict: str) -> None:
    import time

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.text.metadata import create_summary_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util.tensor_util import make_tensor_proto

    writer = EventFileWriter(tb["dir"], filename_suffix=".axowrap")
    try:
        now = time.time()
        values = [Summary.Value(tag=k, simple_value=v) for k, v in _numbers(results).items()]
        text_meta: SummaryMetadata = create_summary_metadata(display_name="", description="")
        for path in _files(run):
            if path.suffix == ".md":
                body = path.read_text(encoding="utf-8")
                tag = "axowrap/" + ("eval_report" if path.parent != run.root else "report")
                values.append(Summary.Value(tag=tag, metadata=text_meta, tensor=make_tensor_proto(body)))
        if verdict:
            values.append(Summary.Value(tag="axowrap/gate", metadata=text_meta, tensor=make_tensor_proto(verdict)))
        writer.add_event(Event(wall_time=now, step=0, summary=Summary(value=values)))
    finally:
        writer.close()
