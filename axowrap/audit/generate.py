"""The behaviour part of the stop audit, in a child process (llama.cpp may crash on a bad file):
greedy answers to the held-out prompts from the HF model (merged, else base + adapter) and from
each GGUF through llama.cpp, each ending by itself (`stop`) or at max_tokens (`length`); for
unquantized GGUFs, whether their first K tokens equal HF's; and llama.cpp's own view of the
end-of-turn tokens (is each an end-of-generation token?).

    python -m axowrap.audit.generate IN.json OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BATCH = 8


def hf_answers(job: dict[str, Any], prompts: list[list[int]]) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    hf = job["hf"]
    model: Any = AutoModelForCausalLM.from_pretrained(hf["model"], dtype=torch.float32)
    if hf.get("adapter"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, hf["adapter"])
    model.eval()
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    pad = job["pad_id"] if job["pad_id"] is not None else (min(eos_ids) if eos_ids else 0)
    results = []
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start : start + BATCH]
        width = max(len(p) for p in batch)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
        with torch.no_grad():
            out = model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=job["max_tokens"], do_sample=False, pad_token_id=pad
            )
        for row in out[:, width:].tolist():
            end = next((i for i, t in enumerate(row) if t in eos_ids), None)
            new = row[: end + 1] if end is not None else row
            results.append({"finish_reason": "stop" if end is not None else "length", "tokens": len(new), "ids": new})
    return {"label": hf["label"], "eos_token_id": sorted(eos_ids), "results": results}


def gguf_answers(path: str, job: dict[str, Any], prompts: list[list[int]]) -> dict[str, Any]:
    import llama_cpp

    from axowrap.chat.backends import GGUFBackend
    from axowrap.chat.format import PromptFormat

    backend = GGUFBackend("gguf", Path(path), PromptFormat(kind="alpaca"), n_ctx=job["n_ctx"])
    vocab = backend.llm._model.vocab
    eog = {text: bool(llama_cpp.llama_vocab_is_eog(vocab, i)) for text, i in job["eot"].items()}
    results = []
    for prompt in prompts:
        for _ in backend.stream_ids(prompt, max_tokens=job["max_tokens"]):
            pass
        last = backend.last
        results.append({"finish_reason": last.finish_reason, "tokens": last.tokens, "ids": last.token_ids})
    return {
        "eog": eog,
        "eos": int(llama_cpp.llama_vocab_eos(vocab)),
        "eot": int(llama_cpp.llama_vocab_eot(vocab)),
        "results": results,
    }


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    prompts = job["prompts"]
    out: dict[str, Any] = {"hf": hf_answers(job, prompts) if job.get("hf") else None, "gguf": {}}
    for gguf_type, path in job["ggufs"].items():
        out["gguf"][gguf_type] = gguf_answers(path, job, prompts)
    Path(argv[1]).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
