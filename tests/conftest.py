from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI shares 2 cores with other jobs: how fast Hypothesis makes or runs an example is never a
# test's verdict (a `too_slow` health check failed once under load; the 200 ms deadline is the
# same kind of check). Tests that set their own settings keep them.
settings.register_profile("loaded-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("loaded-machine")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

HAS_AXOLOTL = importlib.util.find_spec("axolotl") is not None

# Session fixtures of the export steps (merge, gguf, serve): tests/conftest_export.py; the local Hub: tests/hub_server.py.
pytest_plugins = ["conftest_export", "conftest_audit", "hub_server"]

# Offline and quiet for every test, and for the child processes they start.
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    DO_NOT_TRACK="1",
    AXOLOTL_DO_NOT_TRACK="1",
    WANDB_MODE="disabled",
)
# Never this machine's own `plan --calibrate` results (tests that calibrate set their own file).
os.environ["AXOWRAP_CALIBRATION"] = str(REPO / "tests" / "data" / "no-calibration.yaml")
# Every check afresh: a cached result would hide what a test monkeypatched into the checks.
# tests/test_checkcache.py turns the cache on, in a folder of its own.
os.environ["AXOWRAP_NO_CACHE"] = "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from current output")


def unless_ci(missing: bool, reason: str) -> pytest.MarkDecorator:
    """Skip where an outside tool is missing on a developer's machine, but never in CI (CI=true):
    there `make install` provides it, so its absence is a failure, not a pass."""
    return pytest.mark.skipif(missing and not os.environ.get("CI"), reason=f"{reason} (CI requires it)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that need Axolotl fail loudly (not skip) in CI, where it must be installed.
    if HAS_AXOLOTL or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="Axolotl not installed (pip install -e '.[train]'); CI installs it")
    for item in items:
        if "axolotl" in item.keywords or "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp folder holding a copy of examples/ (specs + data), as the current directory."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~1M-parameter Llama + SentencePiece tokenizer (hidden/intermediate 256), built once."""
    from fixtures.tiny_model import build

    return build(tmp_path_factory.mktemp("tiny-llama"))


TINY_SPEC = """\
task: sql
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 6, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 512, save_steps: 3}}
eval: {{holdout: 0.1}}
export: {{merge: true, gguf: [f16, q8_0, q4_k_m]}}
compute: {{target: cpu}}
"""


def tiny_spec(folder: Path, model: Path) -> Path:
    """A spec that trains the tiny model on CPU in seconds, with the sql example data beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES / "data", folder / "data", dirs_exist_ok=True)
    return write(folder / "tiny.yaml", TINY_SPEC.format(model=model))


@pytest.fixture(scope="session")
def tiny_adapter(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter trained for real (Axolotl through accelerate, CPU, 6 steps) on the tiny model.

    Returns Axolotl's output_dir: adapter files + checkpoint-3/ + checkpoint-6/.
    """
    import subprocess
    import sys

    from axowrap.config.render import render_spec
    from axowrap.validate import load_spec

    folder = tmp_path_factory.mktemp("tiny-train")
    spec = tiny_spec(folder, tiny_model)
    rendered = render_spec(load_spec(spec), base_dir=folder)
    cfg = write(folder / "axolotl.yaml", rendered.text)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [str(bindir / "accelerate"), "launch", "--num_processes", "1", "--cpu", "-m", "axolotl.cli.train", str(cfg)],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    out = folder / rendered.config["output_dir"]
    assert (out / "adapter_model.safetensors").is_file()
    return out
