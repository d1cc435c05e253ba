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
        # a full fine-tune's model goes to merged/ when something downstream wants it there
        ({"export": {"merge": True}, "method": "full"}, True),
        ({"export": {"gguf": ["f16"]}, "method": "full"}, True),
        ({"export": {"hub": {"merged": "a/b"}}, "method": "full"}, False),  # push takes train's outputs
        ({"export": {}, "method": "full"}, False),
        ({"export": {"gguf": ["f16"]}, "method": "lora"}, False),
        ({"export": {}, "method": "lora"}, False),
    ],
)
def test_merge_runs_only_when_the_spec_asks(spec: dict[str, Any], wanted: bool, tmp_path: Path) -> None:
    from axowrap.steps.base import StepContext

    ctx = StepContext(name="merge", run=RunDir(tmp_path), spec=spec, config={}, log=tmp_path / "m.log")
    assert merge.STEP.enabled(ctx) is wanted


def _full_fine_tune(tmp_path: Path, tiny_model: Path) -> tuple[RunDir, Any]:
    """A run laid out as a full fine-tune leaves it: the whole model at the top of output_dir
    (adapter/), beside a checkpoint, Axolotl's log, the trainer's arguments and axowrap's marker."""
    import shutil

    from conftest_export import context, make_run

    run = make_run(tmp_path / "run", tiny_model, adapter=None)
    shutil.copytree(tiny_model, run.adapter)
    (run.adapter / "checkpoint-6").mkdir()
    (run.adapter / "checkpoint-6" / "model.safetensors").write_bytes(b"not the final model")
    for name in ("debug.log", "training_args.bin", ".axowrap-train.json"):
        (run.adapter / name).write_text("x")
    ctx = context(run, "merge")
    ctx.spec["method"] = "full"
    ctx.config.pop("adapter", None)
    ctx.config.pop("lora_r", None)
    return run, ctx


def test_a_full_fine_tune_is_copied_to_merged_for_gguf_and_push(tiny_model: Path, tmp_path: Path) -> None:
    """Before, `method: full` with `export.gguf` passed validate, then merge said "no adapter" and
    gguf "no merged model": a full fine-tune could never become a GGUF file."""
    from conftest_export import context

    from axowrap.steps import gguf

    run, ctx = _full_fine_tune(tmp_path, tiny_model)
    (run.merged).mkdir()
    (run.merged / "mine.txt").write_text("an older merged/ the user kept")
    result = merge.STEP.run(ctx)
    model_files = sorted(p.name for p in tiny_model.iterdir() if p.is_file())
    assert sorted(p.name for p in run.merged.iterdir()) == model_files == sorted(result["files"])
    assert (run.merged / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    assert (run.adapter / "model.safetensors").is_file()  # copied, not moved or linked
    assert (run.merged / "model.safetensors").stat().st_ino != (run.adapter / "model.safetensors").stat().st_ino
    assert [p.read_text() for p in run.root.glob("superseded/*/merged/mine.txt")] == ["an older merged/ the user kept"]
    assert result["full_fine_tune"] and "Full fine-tune" in result["report"]
    json.dumps(result)

    gctx = context(run, "gguf")
    gctx.spec["method"] = "full"
    gctx.spec["export"]["gguf"] = ["f16"]
    made = gguf.STEP.run(gctx)
    assert set(made["files"]) == {"f16"} and Path(made["files"]["f16"]["path"]).is_file()


def test_a_full_fine_tune_with_a_missing_shard_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    run, ctx = _full_fine_tune(tmp_path, tiny_model)
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (run.adapter / "model.safetensors.index.json").write_text(json.dumps(index))
    (run.adapter / "model.safetensors").rename(run.adapter / "model-00001-of-00002.safetensors")
    with pytest.raises(
        StepFailed,
        match=r"not whole \(model.safetensors.index.json: names 1 weight file\(s\) that are not beside it: model-00002",
    ):
        merge.STEP.run(ctx)
    assert not run.merged.exists()
