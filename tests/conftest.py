from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

HAS_AXOLOTL = importlib.util.find_spec("axolotl") is not None

# Offline and quiet for every test, and for the child processes they start.
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    DO_NOT_TRACK="1",
    AXOLOTL_DO_NOT_TRACK="1",
    WANDB_MODE="disabled",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from current output")


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
