"""axowrap's processes send no usage data. Each installed package that has telemetry is asked, in a
fresh process with only the environment axowrap gives (no CI variables, which MLflow and others
take as "off" by themselves), whether its telemetry is off: the packages' own checks decide.

MLflow is why this file exists: axowrap gave every child `DO_NOT_TRACK=1`, which Axolotl and
huggingface_hub honour, but MLflow 3 reads `DO_NOT_TRACK` only as "true", so a tracked
training's MLflow telemetry stayed on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from axowrap.config.referee import QUIET_ENV
from axowrap.run.child import child_env
from axowrap.telemetry import TELEMETRY_OFF
from axowrap.tracking import worker

# Each package's own answer to "is telemetry off here?", printed as JSON.
PROBE = """\
import json
from huggingface_hub import constants
answers = {"huggingface_hub": constants.HF_HUB_DISABLE_TELEMETRY}
try:
    from mlflow.telemetry.utils import is_telemetry_disabled
    answers["mlflow"] = is_telemetry_disabled()
except ImportError:
    pass
try:
    from axolotl.telemetry.manager import TelemetryManager
    answers["axolotl"] = not TelemetryManager._check_telemetry_enabled(object.__new__(TelemetryManager))
except ImportError:
    pass
print(json.dumps(answers))
"""


def asked(env: dict[str, str], home: Path) -> dict[str, bool]:
    """The packages' answers in a process whose environment is `env` alone (plus PATH and HOME)."""
    base = {"PATH": os.environ["PATH"], "HOME": str(home)}  # a fresh HOME: nothing of this machine's
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_the_probe_can_say_on(tmp_path: Path) -> None:
    """Without axowrap's environment the packages' telemetry is on, and `DO_NOT_TRACK=1` alone
    leaves MLflow's on: the check below can fail."""
    assert not any(asked({}, tmp_path).values())
    found = asked({"DO_NOT_TRACK": "1"}, tmp_path)
    assert found["huggingface_hub"]
    if "mlflow" in found:
        assert found["mlflow"] is False


@pytest.mark.parametrize(
    "where", ["every child (trainer, merge, eval...)", "the Axolotl referee", "the tracking worker"]
)
def test_telemetry_is_off_in_every_process_axowrap_starts(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where.startswith("every child"):
        env = child_env()
    elif where == "the Axolotl referee":
        env = dict(QUIET_ENV)
    else:
        given: list[dict[str, str]] = []
        real = subprocess.Popen

        def popen(*args: Any, **kwargs: Any) -> Any:
            given.append(kwargs["env"])
            return real(*args, **kwargs)

        monkeypatch.setattr(worker.subprocess, "Popen", popen)
        worker.Worker().close()
        env = {k: v for k, v in given[0].items() if k in child_env()}  # what it was given, not the CI's variables
    found = asked(env, tmp_path)
    assert found and all(found.values()), f"telemetry still on in {where}: {found}"


def test_the_runners_own_mlflow_call_switches_telemetry_off_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """When no worker answers, the runner calls MLflow itself: the environment is set before."""
    from axowrap.tracking import runs

    for key in TELEMETRY_OFF:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(worker, "call", lambda name, *args: (False, None))
    seen: dict[str, str | None] = {}
    monkeypatch.setattr(
        runs, "_probe", lambda: seen.update(MLFLOW=os.environ.get("MLFLOW_DISABLE_TELEMETRY")), raising=False
    )
    runs._mlflow("_probe")
    assert seen == {"MLFLOW": "true"}
