"""Known-harmless warnings: off the terminal, still in the log, all shown with --verbose.
The lines are a real training log (tests/data/noise/README.md)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from axowrap.noise import NOISE, NoiseFilter, install_log_filters, remove_log_filters
from axowrap.run.events import Events
from axowrap.run.progress import Sink

LOG = (Path(__file__).parent / "data" / "noise" / "train-start.log").read_text(encoding="utf-8").splitlines()


def _shown(verbose: bool) -> list[str]:
    lines: list[str] = []
    sink = Sink(Events(lines.append, verbose=verbose), total=6)
    for record in LOG:
        sink.record(record)
    return lines


def test_the_terminal_gets_the_log_without_the_noise() -> None:
    shown = _shown(verbose=False)
    text = "\n".join(shown)
    for noise in ("Failed to load", "Enum subclass", "gemm_4bit_forward", "not passed to `accelerate launch`",
                  '"activation_offloading"', "Error verifying HuggingFace token", "super().__init__(loader)"):  # fmt: skip
        assert noise not in text, noise
    # what matters is kept: Axolotl's own progress, the adapter, the first training step
    assert any("Unable to find prepared dataset" in line for line in shown)
    assert any(line.startswith("trainable params: ") for line in shown)
    assert any(line.startswith("step 1/6  loss 6.3340") for line in shown)
    everything = _shown(verbose=True)
    assert len(everything) - len(shown) >= 190  # the config dump alone is ~190 lines
    assert any("Failed to load" in line for line in everything)


def test_each_noise_entry_matches_the_real_log() -> None:
    flt = NoiseFilter()
    for line in LOG:
        flt.keep(line)
    for noise in NOISE:  # an entry that no longer matches anything real would hide nothing
        assert any(noise.start.search(line) for line in LOG), noise.name


def test_in_process_records_of_the_stack_are_filtered_until_verbose(caplog) -> None:  # type: ignore[no-untyped-def]
    logger = logging.getLogger("torchao")
    install_log_filters()
    try:
        with caplog.at_level(logging.WARNING, logger="torchao"):
            logger.warning("Failed to load /x/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: nope")
            logger.warning("something else from torchao")
        assert [r.getMessage() for r in caplog.records] == ["something else from torchao"]
    finally:
        remove_log_filters()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="torchao"):
        logger.warning("Failed to load /x/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: nope")
    assert len(caplog.records) == 1


@pytest.mark.axolotl
def test_validate_deep_imports_axolotl_without_the_loader_noise() -> None:
    """The command that imports the stack in-process: quiet by default, everything with -v."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "axowrap", "validate", "--deep", "examples/sql.yaml"]
    plain = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "ok examples/sql.yaml (spec, target a10g-24gb x1, deep)\n"
    assert "Failed to load" not in plain.stderr and "Enum subclass" not in plain.stderr
    loud = subprocess.run([*argv[:3], "-v", *argv[3:]], capture_output=True, text=True, cwd=REPO, env=env)
    assert loud.returncode == 0 and "torchao/_C" in loud.stderr  # the control: the noise is real
