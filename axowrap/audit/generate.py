"""The behaviour part of the stop audit, in a child process (llama.cpp may crash on a bad file):
greedy answers to the held-out prompts from the HF model (merged, else base + adapter) and from
each GGUF through llama.cpp, each ending by itself (`stop`) or at max_tokens (`length`); and
llama.cpp's own view of the end-of-turn tokens (is each an end-of-generation token?).

    python -m axowrap.audit.generate IN.json OUT.json

What it costs, and how it is kept down without changing any answer:

- Prompts go in sorted order (by token ids), so that prompts sharing a prefix (the same
  database schema, the same system prompt) follow each other: llama.cpp and the HF cache below
  evaluate a shared prefix once. Each result carries its prompt's index.
- Each model is loaded once. torch and llama.cpp run one thread per idle core (`threads`).
- HF's greedy answer is found by verification, not token by token: the unquantized GGUF's
  answer (the draft; f32/f16/bf16, else any GGUF) goes through the HF model in one forward pass
  after the prompt, and every draft token that equals HF's argmax at its position is HF's own
  greedy token (greedy decoding is a function of the prefix). At the first position where they
  differ, or past the end of the draft, HF takes its own token and goes on decoding one token at
  a time. The result is HF's greedy answer exactly, at prompt-evaluation speed.
- A backend stops generating once `stop_after` of its answers ran to max_tokens: the behaviour
  check has failed by then (every answer must end by itself), and further answers would only
  refine the count. Its result says `stopped_early`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BATCH = 8  # HF prompts per batch when there is no GGUF to draft from


def order_of(prompts: list[list[int]]) -> list[int]:
    """Prompt indices in token order: prompts sharing a prefix become neighbours."""
    return sorted(range(len(prompts)), key=lambda i: prompts[i])


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def accept(predicted: list[int], draft: list[int], eos_ids: set[int], max_tokens: int) -> tuple[list[int], str | None]:
    """HF's greedy answer as far as `predicted` (HF's argmax after the prompt and after each draft
    token; len(draft) + 1 at most) decides it: the accepted tokens, and `stop`/`length` if the
    answer is finished, else None (HF's next tokens must be decoded after the accepted ones)."""
    out: list[int] = []
    for j, token in enumerate(predicted):
        out.append(token)
        if token in eos_ids:
            return out, "stop"
        if len(out) >= max_tokens:
            return out, "length"
        if j >= len(draft) or token != draft[j]:
            return out, None
    return out, None


def _crop(cache: Any, keep: int) -> Any:
    """The cache cut to its first `keep` positions (None: start afresh)."""
    if cache is None or keep <= 0:
        return None
    extra = cache.get_seq_length() - keep
    if extra <= 0:
        return cache
    try:
        cache.crop(-extra)  # a negative count removes that many positions (transformers 4.4x and 5.x)
    except (RuntimeError, ValueError, NotImplementedError):  # sliding-window layers cannot be cut
        return None
    return cache


class HFGreedy:
    """Greedy decoding of one prompt at a time with a KV cache kept across prompts."""

    def __init__(self, job: dict[str, Any]):
        import inspect

        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        loading = time.perf_counter()
        torch.set_num_threads(threads())
        hf = job["hf"]
        # in the audit's own process: its stderr carries the verdict, not a loading progress bar
        hf_logging.disable_progress_bar()
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(hf["model"], dtype=torch.float32)
        finally:
            hf_logging.enable_progress_bar()
        self.keep_arg = "logits_to_keep" in inspect.signature(model.forward).parameters
        if hf.get("adapter"):
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, hf["adapter"])
        model.eval()
        self.model, self.label = model, hf["label"]
        eos = model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.cache: Any = None
        self.cached: list[int] = []  # the tokens whose keys and values the cache holds
        self.load_s = round(time.perf_counter() - loading, 2)

    def _forward(self, tokens: list[int], keep_logits: int) -> list[int]:
        """Run `tokens` (continuing what the cache holds) and return the argmax at the last
        `keep_logits` positions."""
        import torch

        kwargs: dict[str, Any] = {"logits_to_keep": keep_logits} if self.keep_arg else {}
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([tokens]), past_key_values=self.cache, use_cache=True, **kwargs)
        self.cache = out.past_key_values
        self.cached += tokens
        return [int(t) for t in out.logits[0, -keep_logits:].argmax(-1).tolist()]

    def answer(self, prompt: list[int], draft: list[int], max_tokens: int) -> dict[str, Any]:
        seq = prompt + draft
        keep = min(common_prefix(self.cached, seq), len(prompt) - 1)
        self.cache = _crop(self.cache, keep)
        keep = keep if self.cache is not None else 0
        self.cached = self.cached[:keep]
        predicted = self._forward(seq[keep:], len(draft) + 1)
        ids, reason = accept(predicted, draft, self.eos_ids, max_tokens)
        verified = len(ids)
        if reason is None:  # HF's own tokens from here, one at a time
            self.cache = _crop(self.cache, len(prompt) + len(ids) - 1)
            if self.cache is None:  # cannot cut back: evaluate the prefix again
                self.cached = []
                last = self._forward(prompt + ids, 1)[0]
            else:
                self.cached = self.cached[: len(prompt) + len(ids) - 1]
                last = self._forward(ids[-1:], 1)[0]
            while True:
                ids.append(last)
                if last in self.eos_ids:
                    reason = "stop"
                    break
                if len(ids) >= max_tokens:
                    reason = "length"
                    break
                last = self._forward([last], 1)[0]
        return {"finish_reason": reason, "tokens": len(ids), "ids": ids, "verified": verified}


def hf_batched(job: dict[str, Any], prompts: list[list[int]], order: list[int]) -> dict[str, Any]:
    """HF's greedy answers with `generate`, a batch of prompts at a time (no draft to verify)."""
    import torch

    hf = HFGreedy(job)
    model, eos_ids = hf.model, hf.eos_ids
    pad = job["pad_id"] if job["pad_id"] is not None else (min(eos_ids) if eos_ids else 0)
    results: list[dict[str, Any]] = []
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        width = max(len(prompts[i]) for i in batch)
        ids = torch.tensor([[pad] * (width - len(prompts[i])) + prompts[i] for i in batch])
        mask = torch.tensor([[0] * (width - len(prompts[i])) + [1] * len(prompts[i]) for i in batch])
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=job["max_tokens"], do_sample=False, pad_token_id=pad
            )
        for i, row in zip(batch, out[:, width:].tolist(), strict=True):
            end = next((n for n, t in enumerate(row) if t in eos_ids), None)
            new = row[: end + 1] if end is not None else row
            reason = "stop" if end is not None else "length"
            results.append({"prompt": i, "finish_reason": reason, "tokens": len(new), "ids": new})
        if stopped_early(results, job):
            break
    return {"label": hf.label, "eos_token_id": sorted(eos_ids), "load_s": hf.load_s, **finished(results, job)}


def hf_verified(job: dict[str, Any], prompts: list[list[int]], draft: list[dict[str, Any]]) -> dict[str, Any]:
    """HF's greedy answers to the prompts the draft answered, in the draft's order."""
    hf = HFGreedy(job)
    results: list[dict[str, Any]] = []
    for d in draft:
        results.append({"prompt": d["prompt"], **hf.answer(prompts[d["prompt"]], d["ids"], job["max_tokens"])})
        if stopped_early(results, job):
            break
    return {"label": hf.label, "eos_token_id": sorted(hf.eos_ids), "load_s": hf.load_s, **finished(results, job)}


def stopped_early(results: list[dict[str, Any]], job: dict[str, Any]) -> bool:
    return sum(r["finish_reason"] == "length" for r in results) >= job["stop_after"]


def finished(results: list[dict[str, Any]], job: dict[str, Any]) -> dict[str, Any]:
    return {"results": results, "stopped_early": stopped_early(results, job) and len(results) < len(job["prompts"])}


def gguf_answers(path: str, job: dict[str, Any], prompts: list[list[int]], order: list[int]) -> dict[str, Any]:
    import llama_cpp

    from axowrap.chat.backends import GGUFBackend
    from axowrap.chat.format import PromptFormat

    loading = time.perf_counter()
    backend = GGUFBackend(
        "gguf",
        Path(path),
        PromptFormat(kind="alpaca"),
        n_ctx=job["n_ctx"],
        n_threads=threads(),
        n_threads_batch=threads(),
    )
    loaded = round(time.perf_counter() - loading, 2)
    vocab = backend.llm._model.vocab
    eog = {text: bool(llama_cpp.llama_vocab_is_eog(vocab, i)) for text, i in job["eot"].items()}
    results: list[dict[str, Any]] = []
    for i in order:
        for _ in backend.stream_ids(prompts[i], max_tokens=job["max_tokens"]):
            pass
        last = backend.last
        results.append({"prompt": i, "finish_reason": last.finish_reason, "tokens": last.tokens, "ids": last.token_ids})
        if stopped_early(results, job):
            break
    return {
        "eog": eog,
        "eos": int(llama_cpp.llama_vocab_eos(vocab)),
        "eot": int(llama_cpp.llama_vocab_eot(vocab)),
        "load_s": loaded,
        **finished(results, job),
    }


def threads() -> int:
    """One thread per idle core: the cores this process may use less the 1-minute load average,
    at least 1. On a shared machine, a thread more than the free cores makes both torch and
    llama.cpp several times slower (their threads wait for each other), not faster."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def draft_type(ggufs: dict[str, str], unquantized: tuple[str, ...]) -> str | None:
    """The GGUF whose answers HF verifies: an unquantized one (closest to HF), else any."""
    return next((t for t in unquantized if t in ggufs), next(iter(ggufs), None))


def timed(fn: Any, *args: Any) -> dict[str, Any]:
    """fn(*args), with the wall and CPU seconds it took (the audit's cost, per backend)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    out["seconds"] = {"wall": round(time.perf_counter() - wall, 2), "cpu": round(time.process_time() - cpu, 2)}
    return dict(out)


def main(argv: list[str]) -> int:
    """The GGUFs' answers (the child's part); HF's answers are found in the audit's own process
    (`hf_answers`), after these, from the draft."""
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    job.setdefault("stop_after", len(job["prompts"]))
    prompts = job["prompts"]
    order = order_of(prompts)
    out: dict[str, Any] = {"gguf": {}}
    for gguf_type, path in job["ggufs"].items():
        out["gguf"][gguf_type] = timed(gguf_answers, path, job, prompts, order)
    Path(argv[1]).write_text(json.dumps(out), encoding="utf-8")
    return 0


def hf_answers(job: dict[str, Any], draft: list[dict[str, Any]] | None) -> dict[str, Any]:
    """HF's greedy answers: the draft's answers verified, else `generate` in batches."""
    job.setdefault("stop_after", len(job["prompts"]))
    if draft is not None:
        return timed(hf_verified, job, job["prompts"], draft)
    return timed(hf_batched, job, job["prompts"], order_of(job["prompts"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
