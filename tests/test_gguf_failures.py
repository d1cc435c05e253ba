"""Failure paths of the GGUF export: unknown types, a corrupted GGUF, nothing merged yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from axowrap.errors import AxowrapError, StepFailed
from axowrap.gguf_types import SUPPORTED, check_type
from axowrap.run.rundir import RunDir
from axowrap.steps import gguf as gguf_step
from axowrap.steps.base import StepContext


def test_unknown_type_lists_the_supported_ones() -> None:
    with pytest.raises(AxowrapError, match=r"unknown GGUF type 'q4_k_x'") as err:
        check_type("q4_k_x")
    assert err.value.hint == "supported: " + ", ".join(SUPPORTED)
    assert check_type("Q4_K_M") == "q4_k_m"


def test_unknown_type_fails_the_step_before_any_work(tmp_path: Path) -> None:
    ctx = StepContext(
        name="gguf",
        run=RunDir(tmp_path),
        spec={"export": {"merge": True, "gguf": ["q4_k_m", "q9"]}},
        config={},
        log=tmp_path / "gguf.log",
    )
    with pytest.raises(AxowrapError, match="unknown GGUF type 'q9'"):
        gguf_step.STEP.run(ctx)
    assert not (tmp_path / "gguf").exists()


def test_gguf_without_a_merged_model_says_merge_first(tmp_path: Path) -> None:
    ctx = StepContext(
        name="gguf", run=RunDir(tmp_path), spec={"export": {"gguf": ["f16"]}}, config={}, log=tmp_path / "gguf.log"
    )
    with pytest.raises(StepFailed, match="no merged model in") as err:
        gguf_step.STEP.run(ctx)
    assert "axowrap merge" in (err.value.hint or "")


def test_quantize_ftypes_are_llama_cpp_s() -> None:
    import llama_cpp

    from axowrap.gguf_types import QUANTIZE_FTYPES

    for name, value in QUANTIZE_FTYPES.items():
        assert getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{name.upper()}") == value, name


@pytest.mark.axolotl
@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupted_gguf_is_reported_not_crashed_on(
    gguf_run: tuple[RunDir, dict[str, Any]], tmp_path: Path, damage: str
) -> None:
    from axowrap.gguf.smoke import smoke_test

    run, result = gguf_run
    bad = tmp_path / "model-q8_0.gguf"
    good = Path(result["files"]["q8_0"]["path"])
    if damage == "garbage":
        bad.write_bytes(b"this is not a model" * 100)
    else:
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = smoke_test(bad, run.merged, "q8_0", tmp_path / "gguf.log")
    assert out["ok"] is False and out["file"] == bad.name
    if damage == "garbage":
        assert out["error"] == "not a GGUF file (starts with b'this', expected b'GGUF')"
    else:
        assert out["error"].startswith("llama.cpp could not load or run it (exit ")
