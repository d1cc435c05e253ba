"""What the spec's `tracking:` section means for Axolotl: its config keys, the packages that
must be installed, the MLflow store URIs that exist. Light: no tracker is imported here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

# Config keys that only log, name or place tracker runs: they never change the weights, so
# switching tracking on (or renaming a run) never re-trains (the train step's fingerprint).
TRACKING_KEYS = frozenset(
    {
        "use_wandb",
        "wandb_project",
        "wandb_entity",
        "wandb_name",
        "wandb_mode",
        "wandb_run_id",
        "wandb_watch",
        "wandb_log_model",
        "use_mlflow",
        "mlflow_tracking_uri",
        "mlflow_experiment_name",
        "mlflow_run_name",
        "hf_mlflow_log_artifacts",
        "use_tensorboard",
        "use_comet",
        "comet_api_key",
        "comet_workspace",
        "comet_project_name",
        "comet_experiment_key",
        "comet_mode",
        "comet_online",
        "comet_experiment_config",
        "use_trackio",
        "trackio_project_name",
        "trackio_run_name",
        "trackio_space_id",
    }
)
# The package each tracker needs in the training environment (what `validate` checks).
PACKAGES = {"wandb": "wandb", "mlflow": "mlflow", "tensorboard": "tensorboard"}
INSTALL = {
    "wandb": "pip install wandb",
    "mlflow": "pip install mlflow-skinny",
    "tensorboard": "pip install tensorboard",
}
# MLflow's built-in tracking stores by URI scheme (mlflow.tracking._tracking_service.utils;
# tests/test_tracking.py compares this with the installed MLflow). A database scheme may carry
# a driver: `postgresql+psycopg2`.
MLFLOW_SCHEMES = frozenset(
    {"", "file", "http", "https", "databricks", "databricks-uc", "uc", "postgresql", "mysql", "sqlite", "mssql"}
)
DB_SCHEMES = frozenset({"postgresql", "mysql", "sqlite", "mssql"})


def enabled(spec_data: dict[str, Any]) -> list[str]:
    """The trackers the spec's `tracking:` section turns on, in a fixed order."""
    section = spec_data.get("tracking") or {}
    return [name for name in ("wandb", "mlflow", "tensorboard") if section.get(name) not in (None, False)]


def mlflow_scheme(uri: str) -> str:
    scheme = urlparse(uri).scheme
    return scheme.split("+", 1)[0] if len(scheme) > 1 else ""  # a Windows drive letter is a path


def local_store(uri: str) -> bool:
    """A file store: a path, or a `file:` URI (MLflow 3 refuses these unless MLFLOW_ALLOW_FILE_STORE)."""
    return mlflow_scheme(uri) in ("", "file")


def absolute_uri(uri: str, base_dir: Path) -> str:
    """A store URI with a relative path made absolute against the spec's folder (Axolotl runs
    in the run directory): `./mlruns`, `file:mlruns`, `sqlite:///runs.db`."""
    scheme = mlflow_scheme(uri)
    if scheme == "":
        return (base_dir / os.path.expanduser(uri)).resolve().as_uri()
    if scheme == "file":
        path = urlparse(uri).path
        return uri if path.startswith("/") else (base_dir / path).resolve().as_uri()
    if scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str((base_dir / uri[len("sqlite:///") :]).resolve())
    return uri


def axolotl_keys(spec_data: dict[str, Any], base_dir: Path, name: str) -> dict[str, Any]:
    """The Axolotl keys of the spec's trackers (`use_wandb: false` when none is on)."""
    section = spec_data.get("tracking") or {}
    out: dict[str, Any] = {}
    wandb = section.get("wandb")
    if wandb:
        out["use_wandb"] = True
        out["wandb_project"] = wandb["project"]
        for key in ("entity", "name", "mode"):
            if wandb.get(key):
                out[f"wandb_{key}"] = wandb[key]
        out.setdefault("wandb_name", name)
    else:
        out["use_wandb"] = False
    mlflow = section.get("mlflow")
    if mlflow:
        out["use_mlflow"] = True
        out["mlflow_tracking_uri"] = absolute_uri(str(mlflow["tracking_uri"]), base_dir)
        out["mlflow_experiment_name"] = mlflow.get("experiment") or name
        out["mlflow_run_name"] = mlflow.get("name") or name
    if section.get("tensorboard"):
        out["use_tensorboard"] = True
    return out
