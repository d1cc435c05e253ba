"""The merge step for real: Axolotl's merge of the tiny adapter, then the logit check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from axowrap.errors import StepFailed
from axowrap.run.rundir import RunDir
from axowrap.steps import merge

pytestmark = pytest.mark.axolotl


def test_merge_writes_a_standalone_model_that_matches_base_plus_adapter(
    merged_run: tuple[RunDir, dict[str, Any]],
) -> None:
    run, result = merged_run
    for name in ("config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"):
        assert (run.merged / name).is_file(), name
    assert not (run.adapter / "merged").exists()  # moved, not copied
    check = result["check"]
    assert check["probes"] == len(merge.PROBES) + 1  # + one chat-template prompt
    assert check["max_abs_logit_diff"] <= check["tolerance"]
    # the check can tell: training moved the logits by more than the merge error
    assert check["adapter_effect"] > 10 * check["max_abs_logit_diff"]
    assert check["top1_match"] == f"{check['probes']}/{check['probes']}"
    assert "Logit check" in result["report"] and str(run.merged) in result["report"]
    json.dumps(result)  # goes into state.json as is


def test_merged_model_keeps_the_chat_template(merged_run: tuple[RunDir, dict[str, Any]]) -> None:
    from transformers import AutoTokenizer

    run, _ = merged_run
    tok = AutoTokenizer.from_pretrained(str(run.merged))
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_a_wrong_merge_fails_the_logit_check(merged_run: tuple[RunDir, dict[str, Any]], tmp_path: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    run, _ = merged_run
    broken = tmp_path / "broken"
    shutil.copytree(run.merged, broken)
    weights = load_file(str(broken / "model.safetensors"))
    name = next(k for k in weights if k.endswith("layers.0.mlp.down_proj.weight"))
    weights[name] = weights[name] + 0.05 * torch.randn_like(weights[name])
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    base = yaml.safe_load(run.config.read_text())["base_model"]
    with pytest.raises(StepFailed, match=r"logits differ from base \+ adapter by .* \(tolerance"):
        merge.verify_merge(base, run.adapter, broken)
    # QLoRA merges carry NF4 rounding of the base: the difference is recorded, not judged
    lenient = merge.verify_merge(base, run.adapter, broken, judged=False)
    assert lenient["judged"] is False and lenient["max_abs_logit_diff"] > lenient["tolerance"]


def test_merge_without_an_adapter_says_train_first(tiny_model: Path, tmp_path: Path) -> None:
    from conftest_export import context, make_run

    run = make_run(tmp_path / "run", tiny_model, adapter=None)
    with pytest.raises(StepFailed, match="no adapter in .*adapter_config.json missing") as err:
        merge.STEP.run(context(run, "merge"))
    assert "axowrap train" in (err.value.hint or "")


def test_ram_estimate_refuses_clearly_when_short(tiny_model: Path) -> None:
    need = merge.ram_needed(tiny_model)
    assert need > 2 * (tiny_model / "model.safetensors").stat().st_size
    with pytest.raises(StepFailed, match=r"needs about .* GiB of RAM .* but only 0\.0 GiB is available"):
        merge.check_ram(tiny_model, available=1024)
    assert merge.check_ram(tiny_model, available=need + 1)["ram_needed_gib"] == round(need / merge.GIB, 2)


@pytest.mark.parametrize(
    ("spec", "wanted"),
    [
        ({"export": {"merge": True}, "method": "lora"}, True),
        ({"export": {"merge": True}, "method": "full"}, False),  # nothing to merge
        ({"export": {"gguf": ["f16"]}, "method": "lora"}, False),
        ({"export": {}, "method": "lora"}, False),
    ],
)
def test_merge_runs_only_when_the_spec_asks(spec: dict[str, Any], wanted: bool, tmp_path: Path) -> None:
    from axowrap.steps.base import StepContext

    ctx = StepContext(name="merge", run=RunDir(tmp_path), spec=spec, config={}, log=tmp_path / "m.log")
    assert merge.STEP.enabled(ctx) is wanted
