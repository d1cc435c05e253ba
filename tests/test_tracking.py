"""Experiment tracking: the `tracking:` section renders to Axolotl's own keys, never changes the
train fingerprint, no longer disabled by the child environment; validate reports what would
fail; one MLflow run per run directory and training, read back through mlflow itself."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write
from helpers import run_cli

from axowrap.config.render import render_spec
from axowrap.steps.train import NOT_WEIGHTS
from axowrap.validate import load_spec

SPEC = """\
task: sql
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets: [{{path: data/sql.jsonl}}]
compute: {{target: cpu}}
{extra}"""


@pytest.fixture
def folder(workdir: Path) -> Path:
    return workdir / "examples"


def spec(folder: Path, extra: str = "", name: str = "t.yaml") -> Path:
    return write(folder / name, SPEC.format(extra=extra))


def rendered(path: Path) -> dict[str, Any]:
    return render_spec(load_spec(path), base_dir=None).config


def test_tracking_renders_to_axolotl_keys(folder: Path) -> None:
    plain = rendered(spec(folder))
    assert plain["use_wandb"] is False and not any(k.startswith(("use_mlflow", "mlflow_", "use_tens")) for k in plain)
    extra = (
        "tracking:\n"
        "  wandb: {project: sql-tune, entity: team, mode: offline}\n"
        "  mlflow: {tracking_uri: ./mlruns, experiment: sql}\n"
        "  tensorboard: true\n"
    )
    tracked = rendered(spec(folder, extra))
    assert {k: v for k, v in tracked.items() if k not in plain or k == "use_wandb"} == {
        "use_wandb": True,
        "wandb_project": "sql-tune",
        "wandb_entity": "team",
        "wandb_mode": "offline",
        "wandb_name": "t",
        "use_mlflow": True,
        "mlflow_tracking_uri": (folder / "mlruns").resolve().as_uri(),  # relative to the spec, not the run dir
        "mlflow_experiment_name": "sql",
        "mlflow_run_name": "t",
        "use_tensorboard": True,
    }
    # only logging keys differ: the train step's fingerprint (the config minus NOT_WEIGHTS) is the same
    assert {k: v for k, v in tracked.items() if k not in NOT_WEIGHTS} == {
        k: v for k, v in plain.items() if k not in NOT_WEIGHTS
    }


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("file:runs/ml", "{folder}/runs/ml"),
        ("file:///abs/ml", "file:///abs/ml"),
        ("sqlite:///ml.db", "sqlite:///{folder}/ml.db"),
        ("sqlite:////abs/ml.db", "sqlite:////abs/ml.db"),
    ],
)
def test_relative_store_uris_are_made_absolute(folder: Path, uri: str, expected: str) -> None:
    from axowrap.tracking.keys import absolute_uri

    got = absolute_uri(uri, folder)
    want = expected.format(folder=folder.resolve())
    assert got == (Path(want).as_uri() if want.startswith("/") else want)


def _env_from(events: list[dict[str, Any]]) -> dict[str, str]:
    line = next(e["detail"] for e in events if e.get("detail", "").startswith("environment changes: "))
    return dict(part.split("=", 1) for part in line.removeprefix("environment changes: ").split())


def test_the_child_no_longer_disables_what_the_spec_enables(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env_from(_events(spec(folder)))
    assert env["WANDB_MODE"] == "disabled"  # nothing asked for W&B: it stays off
    env = _env_from(_events(spec(folder, "tracking: {wandb: {project: p, mode: offline}, tensorboard: true}\n")))
    assert env["WANDB_MODE"] == "offline" and env["WANDB_RESUME"] == "allow" and len(env["WANDB_RUN_ID"]) == 12
    assert env["TENSORBOARD_LOGGING_DIR"].endswith("/tracking/tensorboard")
    # a raw `axolotl: {use_wandb: true}` is no longer silently defeated either; the user's own
    # WANDB_MODE is kept (tests/conftest.py sets `disabled` for every test: take it away here)
    raw = spec(folder, "axolotl: {use_wandb: true, wandb_project: p}\n", name="raw.yaml")
    monkeypatch.delenv("WANDB_MODE")
    assert _env_from(_events(raw))["WANDB_MODE"] == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert _env_from(_events(raw))["WANDB_MODE"] == "offline"


def _events(path: Path) -> list[dict[str, Any]]:
    res = run_cli("run", str(path), "--dry-run", "--steps", "train", "--json")
    assert res.code == 0, res.err
    return [json.loads(x) for x in res.out.splitlines()]


# --- validate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("tracking: {wandb: {entity: team}}\n", "tracking.wandb: missing required key 'project'"),
        ("tracking: {mlflow: {experiment: x}}\n", "tracking.mlflow: missing required key 'tracking_uri'"),
        (
            "tracking: {mlflow: {tracking_uri: 'localhost:5000'}}\n",
            "tracking.mlflow.tracking_uri: 'localhost:5000' is not a tracking URI MLflow knows (scheme 'localhost')",
        ),
        ("tracking: {mlflow: {tracking_uri: 'http://'}}\n", "tracking.mlflow.tracking_uri: 'http://' names no server"),
        (
            "tracking: {wandb: {project: p, mode: sometimes}}\n",
            'tracking.wandb.mode: \'sometimes\' is not allowed; expected one of "online", "offline"',
        ),
    ],
)
def test_validate_reports_tracking_mistakes(folder: Path, extra: str, message: str) -> None:
    res = run_cli("validate", str(spec(folder, extra)))
    assert res.code == 1 and message in res.out, res.out


def test_a_database_store_without_sqlalchemy(folder: Path) -> None:
    import importlib.util

    res = run_cli("validate", str(spec(folder, "tracking: {mlflow: {tracking_uri: 'sqlite:///ml.db'}}\n")))
    if importlib.util.find_spec("sqlalchemy") is None:  # mlflow-skinny, as installed here
        assert res.code == 1 and "a sqlite store needs SQLAlchemy" in res.out
    else:
        assert res.code == 0, res.out


def test_a_missing_tracker_package(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import axowrap.rules.tracking as rules

    monkeypatch.setattr(rules, "_installed", lambda module: module != "wandb")
    res = run_cli("validate", str(spec(folder, "tracking: {wandb: {project: p, mode: offline}}\n")))
    assert res.code == 1
    assert "tracking.wandb: W&B is on, but the `wandb` package is not installed here" in res.out
    assert "hint: pip install wandb" in res.out


def test_wandb_online_without_a_login_is_a_warning(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    res = run_cli("validate", str(spec(folder, "tracking: {wandb: {project: p}}\n")))
    assert res.code == 0 and "warning: tracking.wandb: W&B online, but no WANDB_API_KEY" in res.out


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.axolotl  # --deep runs Axolotl's own validator too
def test_deep_checks_the_mlflow_server_answers(folder: Path) -> None:
    import socket

    from axowrap.rules.tracking import mlflow_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    path = spec(folder, f"tracking: {{mlflow: {{tracking_uri: '{dead}'}}}}\n")
    res = run_cli("validate", "--deep", str(path))
    assert res.code == 1 and f"tracking.mlflow.tracking_uri: no MLflow server answers at {dead}" in res.out
    assert run_cli("validate", str(path)).code == 0  # the network is only asked with --deep
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        live = f"http://127.0.0.1:{server.server_address[1]}"
        assert mlflow_server(load_spec(spec(folder, f"tracking: {{mlflow: {{tracking_uri: '{live}'}}}}\n"))) == []
    finally:
        server.shutdown()


# --- MLflow itself --------------------------------------------------------------------------------


def test_mlflow_schemes_are_mlflows_own() -> None:
    """The schemes MLflow registers; its database stores only exist with SQLAlchemy installed."""
    from mlflow.store.db.db_types import DATABASE_ENGINES
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    from axowrap.tracking.keys import DB_SCHEMES, MLFLOW_SCHEMES

    assert set(_tracking_store_registry._registry) | set(DATABASE_ENGINES) == MLFLOW_SCHEMES
    assert set(DATABASE_ENGINES) == DB_SCHEMES


def test_one_mlflow_run_per_training_and_its_files_logged_at_the_end(folder: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from axowrap.run.pipeline import prepare_run
    from axowrap.run.report import write_report
    from axowrap.tracking.runs import finish, links, start, tracking_state

    store = tmp_path / "mlruns"
    path = spec(folder, f"tracking: {{mlflow: {{tracking_uri: '{store}', experiment: sql}}, tensorboard: true}}\n")
    run = prepare_run(path, tmp_path / "runs")
    config = yaml.safe_load(run.config.read_text())
    env = start(run, config, "fp-1")
    assert env["MLFLOW_ALLOW_FILE_STORE"] == "true" and env["MLFLOW_EXPERIMENT_NAME"] == "sql"
    assert start(run, config, "fp-1")["MLFLOW_RUN_ID"] == env["MLFLOW_RUN_ID"]  # a resume: the same run
    write(
        run.eval / "results.json",
        json.dumps({"metrics": {"exact_match": {"base": 0.1, "tuned": 0.6}}, "gate": {"passed": True, "failures": []}}),
    )
    write_report(run)
    assert finish(run) == []
    import mlflow

    mlflow.set_tracking_uri(store.as_uri())
    try:
        (found,) = mlflow.search_runs(experiment_names=["sql"], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    assert found.info.run_id == env["MLFLOW_RUN_ID"]
    data = found.data
    assert data.params["axowrap.task"] == "sql" and data.tags["axowrap.gate"] == "passed"
    assert data.metrics == {"eval/exact_match/base": 0.1, "eval/exact_match/tuned": 0.6}
    client = MlflowClient(tracking_uri=store.as_uri())
    artifacts = {a.path for a in client.list_artifacts(env["MLFLOW_RUN_ID"], "axowrap")}
    assert {"axowrap/spec.yaml", "axowrap/axolotl.yaml", "axowrap/manifest.json", "axowrap/report.md"} <= artifacts
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(env["TENSORBOARD_LOGGING_DIR"])
    events.Reload()
    assert events.Tags()["scalars"] == ["eval/exact_match/base", "eval/exact_match/tuned"]
    assert set(events.Tags()["tensors"]) == {"axowrap/report", "axowrap/gate"}
    assert finish(run) == []  # logging again (a later pipeline run) is fine: params are not changed
    other = start(run, config, "fp-2")["MLFLOW_RUN_ID"]  # another training: another tracker run
    assert other != env["MLFLOW_RUN_ID"] and tracking_state(run)["mlflow"]["run_id"] == other
    assert links(tracking_state(run))[0].startswith(f"MLflow run: {other} (experiment 'sql') in {store.as_uri()}")


# --- the tracking worker, the trainer's buffering, the backfill on resume -------------------------


def test_the_worker_runs_the_runners_own_mlflow_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker process answers as the runner's own call would: the same run, the same error;
    a worker that is gone is no error (the runner makes the call itself)."""
    from mlflow.tracking import MlflowClient

    from axowrap.errors import AxowrapError
    from axowrap.tracking import runs, worker

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    worker.warm()
    try:
        done, (run_id, experiment_id) = worker.call("_mlflow_run", uri, "sql", "named", str(tmp_path))
        assert done
        found = MlflowClient(tracking_uri=uri).get_run(run_id)
        assert found.info.experiment_id == experiment_id and found.info.run_name == "named"
        assert found.data.tags["axowrap.run_dir"] == str(tmp_path)
        with pytest.raises(AxowrapError) as in_worker:
            worker.call("_mlflow_run", "nosuchscheme://x", "sql", None, str(tmp_path))
        with pytest.raises(AxowrapError) as here:
            runs._mlflow_run("nosuchscheme://x", "sql", None, str(tmp_path))
        assert (in_worker.value.message, in_worker.value.hint) == (here.value.message, here.value.hint)
        assert "cannot create a run in nosuchscheme://x" in here.value.message
        assert worker._worker is not None and worker._worker.proc is not None
        worker._worker.proc.kill()
        worker._worker.proc.wait()
        assert worker.call("_mlflow_run", uri, "sql", None, str(tmp_path)) == (False, None)
        again = runs._mlflow("_mlflow_run", uri, "sql", None, str(tmp_path))  # made here instead
        assert again[1] == experiment_id and again[0] != run_id
    finally:
        worker.close()


def test_the_training_buffers_mlflow_logging_unless_told_otherwise(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transformers logs asynchronously; unbuffered, MLflow's logging thread idles up to a second
    in `queue.get(timeout=1)` when the run ends (mlflow/utils/async_logging/async_logging_queue.py)."""
    from mlflow.environment_variables import MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS

    from axowrap.run.pipeline import prepare_run
    from axowrap.tracking.runs import BUFFERING, start

    assert BUFFERING == MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS.name
    path = spec(folder, f"tracking: {{mlflow: {{tracking_uri: '{tmp_path / 'mlruns'}'}}}}\n")
    run = prepare_run(path, tmp_path / "runs")
    config = yaml.safe_load(run.config.read_text())
    monkeypatch.delenv(BUFFERING, raising=False)
    assert start(run, config, "fp", create=False)[BUFFERING] == "1"
    monkeypatch.setenv(BUFFERING, "5")
    assert start(run, config, "fp", create=False)[BUFFERING] == "5"
    untracked = prepare_run(spec(folder, name="u.yaml"), tmp_path / "runs")
    assert BUFFERING not in start(untracked, yaml.safe_load(untracked.config.read_text()), "fp")


def test_a_resumed_training_backfills_what_the_killed_one_had_not_logged(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training killed hard loses the metrics MLflow still buffered; the resumed one starts
    after its checkpoint. The checkpoint's log_history fills the gap, and only the gap."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from axowrap.run.pipeline import prepare_run
    from axowrap.tracking.runs import backfill, start, tracking_state

    store = tmp_path / "mlruns"
    run = prepare_run(spec(folder, f"tracking: {{mlflow: {{tracking_uri: '{store}'}}}}\n"), tmp_path / "runs")
    start(run, yaml.safe_load(run.config.read_text()), "fp")
    run_id = tracking_state(run)["mlflow"]["run_id"]
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=store.as_uri())
    client.log_batch(run_id, metrics=[Metric("loss", 2.0, 0, 1), Metric("loss", 1.9, 0, 2)])
    history = [
        {"loss": 2.0, "grad_norm": 0.5, "learning_rate": 1e-4, "epoch": 0.1, "step": 1},
        {"loss": 1.9, "grad_norm": 0.4, "learning_rate": 1e-4, "epoch": 0.2, "step": 2},
        {"loss": 1.7, "grad_norm": 0.3, "learning_rate": 1e-4, "epoch": 0.3, "memory(GiB)": 1.5, "step": 3},
    ]
    checkpoint = write(run.adapter / "checkpoint-3" / "trainer_state.json", json.dumps({"log_history": history}))
    assert backfill(run, checkpoint.parent) == 1 + 3 + 3 + 3 + 1
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [(1, 2.0), (2, 1.9), (3, 1.7)]
    assert [m.step for m in client.get_metric_history(run_id, "grad_norm")] == [1, 2, 3]
    assert [m.value for m in client.get_metric_history(run_id, "memory_GiB_")] == [1.5]  # transformers' name
    assert backfill(run, checkpoint.parent) == 0
