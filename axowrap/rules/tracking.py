"""Experiment tracking rules: the tracker's package is installed, the MLflow URI is one MLflow
can open, a W&B online run has a login; with `--deep`, the MLflow server answers."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from axowrap.problems import Problem
from axowrap.spec.model import Spec
from axowrap.tracking.keys import DB_SCHEMES, INSTALL, MLFLOW_SCHEMES, PACKAGES, enabled, mlflow_scheme

NAMES = {"wandb": "W&B", "mlflow": "MLflow", "tensorboard": "TensorBoard"}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def trackers_installed(spec: Spec) -> Iterator[Problem]:
    """A tracker whose package is missing: the trainer refuses to start its logger."""
    for name in enabled(spec.data):
        if not _installed(PACKAGES[name]):
            yield spec.problem(
                ("tracking", name),
                f"{NAMES[name]} is on, but the `{PACKAGES[name]}` package is not installed here: "
                "the trainer would refuse to start",
                hint=INSTALL[name],
            )


def mlflow_uri(spec: Spec) -> Iterator[Problem]:
    """A tracking URI MLflow cannot open: an unknown scheme, an http URI with no host, a
    database store without the full mlflow package (SQLAlchemy)."""
    section = (spec.data.get("tracking") or {}).get("mlflow")
    if not section:
        return
    uri = str(section["tracking_uri"])
    scheme = mlflow_scheme(uri)
    path = ("tracking", "mlflow", "tracking_uri")
    examples = "http://HOST:PORT, file:./mlruns (or a folder), sqlite:///mlflow.db"
    if scheme not in MLFLOW_SCHEMES:
        yield spec.problem(
            path, f"{uri!r} is not a tracking URI MLflow knows (scheme {scheme!r})", hint=f"e.g. {examples}"
        )
    elif scheme in ("http", "https") and not urlparse(uri).netloc:
        yield spec.problem(path, f"{uri!r} names no server", hint="e.g. http://127.0.0.1:5000")
    elif scheme in DB_SCHEMES and not _installed("sqlalchemy"):
        yield spec.problem(
            path,
            f"a {scheme} store needs SQLAlchemy, which the full `mlflow` package brings (mlflow-skinny does not)",
            hint="pip install mlflow, or use a folder (file:./mlruns) or a tracking server",
        )


def wandb_login(spec: Spec) -> Iterator[Problem]:
    """W&B online with no API key here: the training would stop at the login prompt."""
    section = (spec.data.get("tracking") or {}).get("wandb")
    if not section or (section.get("mode") or os.environ.get("WANDB_MODE") or "online") != "online":
        return
    netrc = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        logged_in = "api.wandb.ai" in netrc.read_text(encoding="utf-8")
    except OSError:
        logged_in = False
    if not (os.environ.get("WANDB_API_KEY") or logged_in):
        yield spec.problem(
            ("tracking", "wandb"),
            "W&B online, but no WANDB_API_KEY and no `wandb login` here: the machine that trains needs one",
            hint="set WANDB_API_KEY there, or `mode: offline` and `wandb sync` later",
            severity="warning",
        )


def mlflow_server(spec: Spec, timeout: float = 5.0) -> list[Problem]:
    """`--deep`: the MLflow tracking server answers (GET /health)."""
    section = (spec.data.get("tracking") or {}).get("mlflow")
    if not section or mlflow_scheme(str(section["tracking_uri"])) not in ("http", "https"):
        return []
    import urllib.error
    import urllib.request

    uri = str(section["tracking_uri"]).rstrip("/")
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=timeout):
            return []
    except urllib.error.HTTPError:
        return []  # a server answered (an auth proxy may refuse /health): reachable
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return [
            spec.problem(
                ("tracking", "mlflow", "tracking_uri"),
                f"no MLflow server answers at {uri} ({reason})",
                hint="start it (`mlflow server --host 127.0.0.1 --port 5000`) or fix the URI",
            )
        ]
