"""The training process's entry (axowrap/run/train_main.py): Axolotl's `axolotl.cli.train`, run
after the modules it imports are frozen out of the garbage collector. Real trainings go through
it in tests/test_train.py and the pipeline tests; here, what it freezes and that Axolotl behaves
through it exactly as through `python -m axolotl.cli.train`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from axowrap.run.train_main import trackers

# main() up to the point where it hands over to Axolotl's CLI: what the process holds then.
PROBE = """\
import gc, json, runpy, sys
import axowrap.run.train_main as entry
seen = {}
def handed_over(name, run_name=None, alter_sys=False):
    seen.update(name=name, run_name=run_name, alter_sys=alter_sys, frozen=gc.get_freeze_count(),
                collecting=gc.isenabled(), train="axolotl.train" in sys.modules,
                trainer="transformers.trainer" in sys.modules, entry_loaded=name in sys.modules,
                mlflow="mlflow" in sys.modules, argv=sys.argv[1:])
runpy.run_module = handed_over
sys.argv = ["train_main", *sys.argv[1:]]
entry.main()
print(json.dumps(seen))
"""


@pytest.mark.parametrize("tracked", [False, True])
def test_the_stack_is_imported_and_frozen_before_axolotls_cli_runs(tracked: bool, tmp_path: Path) -> None:
    config = tmp_path / "axolotl.yaml"
    config.write_text("base_model: x\nuse_mlflow: true\n" if tracked else "base_model: x\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config), "--some_flag=1"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert (seen["name"], seen["run_name"], seen["alter_sys"]) == ("axolotl.cli.train", "__main__", True)
    assert seen["argv"] == [str(config), "--some_flag=1"]  # Axolotl's CLI gets the arguments as given
    assert seen["train"] and seen["trainer"], "the training stack was not imported before the freeze"
    assert seen["frozen"] > 100_000, seen["frozen"]
    assert seen["collecting"], "the collector must be on again for what the training creates"
    assert not seen["entry_loaded"], "axolotl.cli.train must run afresh as __main__, as `-m` runs it"
    # the tracker's package, when the config turns it on and it is installed (not in the 3.12 venv)
    assert seen["mlflow"] is (tracked and importlib.util.find_spec("mlflow") is not None)


def test_the_trackers_come_from_the_config_and_a_bad_config_is_left_to_axolotl(tmp_path: Path) -> None:
    config = tmp_path / "axolotl.yaml"
    config.write_text("use_mlflow: true\nuse_wandb: false\nuse_tensorboard: true\n")
    assert trackers(str(config)) == ["mlflow", "tensorboard"]
    config.write_text("use_mlflow: [unclosed\n")
    assert trackers(str(config)) == []
    assert trackers(str(tmp_path / "missing.yaml")) == [] and trackers(None) == []


def test_axolotl_refuses_a_bad_config_through_the_entry_as_it_does_itself(tmp_path: Path) -> None:
    """Differential: the same config, once through `-m axowrap.run.train_main`, once through
    `-m axolotl.cli.train`: the same exit code and the same error. Nothing more at exit either:
    frozen objects left to the end once made nanobind report "leaked instances" (now unfrozen
    at exit)."""
    config = tmp_path / "axolotl.yaml"
    config.write_text("base_model: ./no-such-model\ndatasets: [{path: ./no-such.jsonl, type: alpaca}]\n")
    answers = []
    for module in ("axowrap.run.train_main", "axolotl.cli.train"):
        done = subprocess.run(
            [sys.executable, "-m", module, str(config)], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        answers.append((done.returncode, lines[-4:]))
    assert answers[0][0] != 0 and "ValidationError" in answers[0][1][0]
    assert answers[0] == answers[1]
