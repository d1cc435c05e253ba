"""merge: fold the LoRA adapter into the base with Axolotl's merge (a child process), then
check the merge for real: the merged model's logits equal base + adapter (peft) on probe prompts.

    adapter/ + base  --axolotl.cli.merge_lora-->  adapter/merged/  --logit check, then move-->  merged/

A merge that fails its check stays in adapter/merged/ (never where push looks); a previous
merged/ moves to superseded/<time>/ when the new one takes its place.

A full fine-tune has no adapter: its output_dir (adapter/) holds the whole model. The step then
copies that model's files (the train step's outputs) into merged/, each checked whole first, so
that gguf, chat and the audit find the fine-tuned model where they find a merged one.
(A copy, not a hard link: a later save into adapter/ rewrites its files in place, and would
rewrite merged/ and a superseded merged/ through the link.)

QLoRA: Axolotl loads the base in 16 bit for the merge (it dequantizes, simulating NF4
rounding), so the merged model is a plain 16-bit model; the step says so in its log.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from axowrap.errors import StepFailed
from axowrap.models.facts import DTYPE_BYTES, config_dtype, weights_bytes
from axowrap.run.child import run_logged
from axowrap.run.outputs import supersede
from axowrap.run.rundir import RunDir
from axowrap.steps.base import Step, StepContext

PROBES = (
    "SELECT name FROM users WHERE",
    "The capital of France is",
    "### Question:\nHow many rows are in the table?\n\n### SQL:\n",
)
# Logits must agree within ATOL + RTOL * max|reference logit|; RTOL by the merged weights' dtype
# (16-bit storage rounds the merged weights, float32 does not).
ATOL = 1e-3
RTOL = {"float32": 1e-4, "float16": 5e-3, "bfloat16": 2e-2}
TOKENIZER_FILES = ("tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json", "added_tokens.json")
GIB = 1024**3


def enabled(ctx: StepContext) -> bool:
    export = ctx.spec.get("export") or {}
    if ctx.spec["method"] == "full":  # the whole model goes where gguf looks (push takes train's outputs)
        return bool(export.get("merge") or export.get("gguf"))
    return bool(export.get("merge"))


def params(ctx: StepContext) -> dict[str, Any]:
    if not ctx.config.get("adapter"):
        return {"base_model": ctx.config.get("base_model"), "full_fine_tune": True}
    return {
        "base_model": ctx.config.get("base_model"),
        "adapter": ctx.config.get("adapter"),
        "probes": list(PROBES),
        "atol": ATOL,
        "rtol": RTOL,
    }


def outputs(ctx: StepContext) -> list[Path]:
    return [ctx.run.merged]  # every file of the merged model


def is_qlora(config: dict[str, Any]) -> bool:
    return config.get("adapter") == "qlora" or bool(config.get("load_in_4bit"))


def local_model(config: dict[str, Any], run_root: Path) -> Path | None:
    """The base model's local folder, or None when it is a Hub id."""
    base = Path(str(config.get("base_model", ""))).expanduser()
    if not base.is_absolute():
        base = run_root / base
    return base if (base / "config.json").is_file() else None


def available_ram() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes (None where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def ram_needed(base: Path) -> int:
    """Bytes the step needs at its peak: base + adapter and the merged model, both in float32
    for the logit check (the merge itself works shard by shard and needs less)."""
    cfg = json.loads((base / "config.json").read_text(encoding="utf-8"))
    as_f32 = weights_bytes(base) * 4 // DTYPE_BYTES.get(config_dtype(cfg), 2)
    return 2 * as_f32 + GIB // 2


def check_ram(base: Path | None, available: int | None) -> dict[str, Any]:
    if base is None or available is None:
        return {"ram_needed_gib": None, "ram_available_gib": None if available is None else round(available / GIB, 2)}
    need = ram_needed(base)
    if need > available:
        raise StepFailed(
            f"merge: needs about {need / GIB:.1f} GiB of RAM (the base loaded twice in float32 for the logit check), "
            f"but only {available / GIB:.1f} GiB is available",
            hint="free memory or run the merge on a machine with more RAM",
        )
    return {"ram_needed_gib": round(need / GIB, 2), "ram_available_gib": round(available / GIB, 2)}


def merged_dtype(merged: Path) -> str:
    return config_dtype(json.loads((merged / "config.json").read_text(encoding="utf-8")))


def probe_texts(tokenizer: Any) -> list[str]:
    texts = list(PROBES)
    if getattr(tokenizer, "chat_template", None):
        texts.append(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": "List all tables."}], tokenize=False, add_generation_prompt=True
            )
        )
    return texts


def verify_merge(base: str, adapter: Path, merged: Path, *, judged: bool = True) -> dict[str, Any]:
    """Compare next-token logits of `merged` with base + adapter (peft) on the probes, in float32.

    Raises StepFailed when any logit differs by more than the tolerance (when `judged`: a QLoRA
    merge carries the NF4 rounding of the base, which the 16-bit reference does not have).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(merged))
    texts = probe_texts(tok)
    with torch.no_grad():
        ref_model = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), str(adapter)
        )
        ref_model.eval()
        ref = [ref_model(**tok(t, return_tensors="pt")).logits[0].float() for t in texts]
        with ref_model.disable_adapter():
            plain = [ref_model(**tok(t, return_tensors="pt")).logits[0].float() for t in texts]
        del ref_model
        model = AutoModelForCausalLM.from_pretrained(str(merged), dtype=torch.float32)
        model.eval()
        got = [model(**tok(t, return_tensors="pt")).logits[0].float() for t in texts]
    diff = max(float((a - b).abs().max()) for a, b in zip(got, ref, strict=True))
    effect = max(float((a - b).abs().max()) for a, b in zip(plain, ref, strict=True))
    scale = max(float(r.abs().max()) for r in ref)
    dtype = merged_dtype(merged)
    tolerance = ATOL + RTOL.get(dtype, RTOL["bfloat16"]) * scale
    top1 = sum(int((a.argmax(-1) == b.argmax(-1)).all()) for a, b in zip(got, ref, strict=True))
    result = {
        "probes": len(texts),
        "max_abs_logit_diff": diff,
        "tolerance": tolerance,
        "adapter_effect": effect,
        "merged_dtype": dtype,
        "top1_match": f"{top1}/{len(texts)}",
        "judged": judged,
    }
    if judged and diff > tolerance:
        raise StepFailed(
            f"merge: the merged model's logits differ from base + adapter by {diff:.4g} (tolerance {tolerance:.3g}) "
            f"on {len(texts)} probe prompts",
            hint=f"the merged model in {merged} is wrong (left there, not moved to merged/); "
            "rerun `axowrap merge RUN --force`",
        )
    return result


def copy_tokenizer(adapter: Path, merged: Path) -> list[str]:
    """Training may change the tokenizer (chat template, special tokens): the adapter folder has
    the tokenizer as trained; Axolotl's merge copies the base's. Keep the trained one."""
    copied = []
    for name in TOKENIZER_FILES:
        if (adapter / name).is_file():
            shutil.copy2(adapter / name, merged / name)
            copied.append(name)
    return copied


def merge_argv(run_dir: RunDir) -> list[str]:
    """Axolotl's merge for a run; it writes adapter/merged/ (Axolotl's output_dir + /merged)."""
    return [sys.executable, "-m", "axolotl.cli.merge_lora", str(run_dir.config), f"--lora-model-dir={run_dir.adapter}"]


def promote(ctx: StepContext) -> dict[str, Any]:
    """A full fine-tune: copy its saved model (the train step's outputs: the files at the top of
    output_dir, not its checkpoints or logs) into merged/, each checked whole first."""
    from axowrap.run.outputs import problem
    from axowrap.steps.train import model_files

    run_dir = ctx.run
    trained = run_dir.adapter
    files = model_files(trained)
    broken = [f"{p.name}: {why}" for p in files if (why := problem(p)) is not None]
    if broken:
        raise StepFailed(
            f"merge: the trained model in {trained} is not whole ({'; '.join(broken[:3])})",
            hint="run `axowrap train RUN` (again, if its save was cut short)",
        )
    if ctx.dry_run:
        ctx.say(f"merge: full fine-tune - would copy the model in {trained} into {run_dir.merged}")
        return {"dry_run": True}
    ctx.say(f"merge: full fine-tune - nothing to merge; copying the trained model into {run_dir.merged}")
    staged = trained / "merged"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    copied = [p.name for p in files]  # a sharded model's shards are top-level files too
    for name in copied:
        shutil.copy2(trained / name, staged / name)
    if run_dir.merged.exists():
        supersede(run_dir.root, run_dir.merged)
    os.replace(staged, run_dir.merged)
    size = weights_bytes(run_dir.merged)
    result: dict[str, Any] = {"merged": str(run_dir.merged), "bytes": size, "full_fine_tune": True, "files": copied}
    result["report"] = (
        f"### Merge\n\nFull fine-tune: no adapter to merge. The trained model ({size / 1e6:.1f} MB) is "
        f"copied to `{run_dir.merged}`.\n"
    )
    return result


def run(ctx: StepContext) -> dict[str, Any]:
    run_dir, config = ctx.run, ctx.config
    if not config.get("adapter"):
        return promote(ctx)
    adapter = run_dir.adapter
    if not (adapter / "adapter_config.json").is_file():
        raise StepFailed(
            f"merge: no adapter in {adapter} (adapter_config.json missing)", hint="run `axowrap train RUN` first"
        )
    base = local_model(config, run_dir.root)
    ram = check_ram(base, available_ram())
    argv = merge_argv(run_dir)
    if ctx.dry_run:
        ctx.say(f"merge: would run {' '.join(argv)} and move {adapter / 'merged'} to {run_dir.merged}")
        return {"dry_run": True, "argv": argv}
    if is_qlora(config):
        ctx.say("merge: QLoRA adapter - the base is dequantized to 16 bit for the merge (NF4 rounding simulated)")
    ctx.say(f"merge: merging {adapter} into {config.get('base_model')}")
    staged = adapter / "merged"
    shutil.rmtree(staged, ignore_errors=True)
    run_logged("merge", argv, ctx.log, cwd=run_dir.root)
    if not (staged / "config.json").is_file():
        raise StepFailed(f"merge: Axolotl's merge exited 0 but wrote no model to {staged}", hint=f"see {ctx.log}")
    copied = copy_tokenizer(adapter, staged)
    ctx.say("merge: checking logits of the merged model against base + adapter")
    if is_qlora(config):
        ctx.say("merge: QLoRA - the logit difference includes NF4 rounding of the base: recorded, not judged")
    # checked where Axolotl wrote it: a merge that fails its check never reaches merged/
    check = verify_merge(str(base or config["base_model"]), adapter, staged, judged=not is_qlora(config))
    if run_dir.merged.exists():
        supersede(run_dir.root, run_dir.merged)
    os.replace(staged, run_dir.merged)
    size = weights_bytes(run_dir.merged)
    result = {
        "merged": str(run_dir.merged),
        "bytes": size,
        "qlora_dequantized": is_qlora(config),
        "tokenizer_from_adapter": copied,
        **ram,
        "check": check,
    }
    result["report"] = (
        f"### Merge\n\nMerged model: `{run_dir.merged}` ({size / 1e6:.1f} MB, {check['merged_dtype']}).\n"
        f"Logit check on {check['probes']} probe prompts: max |diff| {check['max_abs_logit_diff']:.2e} "
        f"(tolerance {check['tolerance']:.2e}; the adapter itself moves logits by {check['adapter_effect']:.2e}); "
        f"top-1 tokens match on {check['top1_match']} prompts.\n"
    )
    return result


STEP = Step(
    name="merge",
    needs=("train",),
    enabled=enabled,
    params=params,
    outputs=outputs,
    run=run,
    requires=("axolotl", "torch", "transformers", "peft"),
)
