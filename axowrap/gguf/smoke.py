"""Smoke-test a GGUF for real, in a child process (a corrupt file may crash llama.cpp; the
runner must survive and report it):

- it loads in llama.cpp (llama_cpp.Llama);
- llama.cpp tokenizes the probe strings exactly as the HF tokenizer of the merged model does;
- greedy generation from the chat template (the one stored in the GGUF) produces tokens;
- next-token logits match the merged HF model: must be within F16_TOLERANCE for f16/bf16/f32,
  recorded (not judged) for quantized types.

    python -m axowrap.gguf.smoke MODEL.gguf MERGED_DIR OUT.json [--check-logits]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from axowrap.run.child import run_child

# Must tokenize identically. Text that starts with spaces or follows a special token is left out on
# purpose: llama.cpp's SentencePiece tokenizer puts a space before the text after every special
# token (as sentencepiece and HF's legacy mode do); HF's non-legacy mode does not. The chat
# prompt is compared too, and a difference there is recorded as a warning (see `chat_prompt`).
PROBES = (
    "SELECT name FROM users WHERE id = 3;",
    "Hello, world! How are you today?",
    "tabs\tand\nnew lines, caf\u00e9 \u2014 \u00fcber 42%",
    "The answer is 7.<|im_end|>",
)
CHAT = [{"role": "user", "content": "How many rows are in the users table?"}]
GENERATE_TOKENS = 8
# |logit(GGUF) - logit(HF)| <= F16_TOLERANCE * max(1, max |logit(HF)|) for 16/32-bit files.
F16_TOLERANCE = 1e-2
UNQUANTIZED = ("f32", "f16", "bf16")
MAGIC = b"GGUF"


def header_problem(path: Path) -> str | None:
    """A cheap check before loading: exists, non-empty, GGUF magic."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if head != MAGIC:
        return f"not a GGUF file (starts with {head!r}, expected {MAGIC!r})"
    return None


def smoke_test(gguf: Path, merged: Path, gguf_type: str, log: Path, *, timeout: float = 300) -> dict[str, Any]:
    """Run the checks in a child; always returns a result ({"ok": False, "error": ...} on failure)."""
    problem = header_problem(gguf)
    if problem:
        return {"file": gguf.name, "type": gguf_type, "ok": False, "error": problem}
    out = log.parent / f".smoke-{gguf.name}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "axowrap.gguf.smoke", str(gguf), str(merged), str(out)]
    if gguf_type in UNQUANTIZED:
        argv.append("--check-logits")
    done = run_child(argv, log=log, timeout=timeout)
    code: int | str = f"timeout after {timeout:.0f}s" if done.timed_out else done.code
    if code != 0 or not out.is_file():
        last = next((ln for ln in reversed(done.tail) if "rror" in ln), done.tail[-1] if done.tail else "")
        return {
            "file": gguf.name,
            "type": gguf_type,
            "ok": False,
            "error": f"llama.cpp could not load or run it (exit {code}): {last.strip()}",
        }
    result = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return {"file": gguf.name, "type": gguf_type, **result}


def _check(gguf: str, merged: str, check_logits: bool) -> dict[str, Any]:
    import llama_cpp
    from transformers import AutoTokenizer

    llm: Any = llama_cpp.Llama(model_path=gguf, n_ctx=512, n_threads=2, seed=0, verbose=False)
    tok: Any = AutoTokenizer.from_pretrained(merged)
    mismatches = []
    for text in PROBES:
        want = tok.encode(text, add_special_tokens=True)
        got = llm.tokenize(
            text.encode("utf-8"), add_bos=tok.bos_token_id is not None and want[:1] == [tok.bos_token_id], special=True
        )
        if got != want:
            mismatches.append({"text": text, "hf": want, "gguf": got})
    prompt = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) if tok.chat_template else None
    chat_same = prompt is None or llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True) == tok.encode(
        prompt, add_special_tokens=False
    )
    reply = llm.create_chat_completion(messages=CHAT, max_tokens=GENERATE_TOKENS, temperature=0.0, top_k=1, seed=0)
    usage = reply.get("usage", {})
    result: dict[str, Any] = {
        "tokenization": {"probes": len(PROBES), "mismatches": mismatches, "chat_prompt_same": chat_same},
        "generation": {"tokens": usage.get("completion_tokens", 0), "text": reply["choices"][0]["message"]["content"]},
    }
    result["logits"] = _logits(gguf, tok, merged, check_logits)
    errors = []
    if not chat_same:
        result["warning"] = (
            "llama.cpp tokenizes the chat prompt differently from HF (usually a space after each "
            "special token); served prompts differ slightly from training"
        )
    if mismatches:
        errors.append(f"tokenization differs from the HF tokenizer on {len(mismatches)} of {len(PROBES)} probes")
    if result["generation"]["tokens"] < 1:
        errors.append("greedy generation produced no tokens")
    if check_logits and not result["logits"]["within_tolerance"]:
        errors.append(
            f"next-token logits differ from the merged model by {result['logits']['max_abs_diff']:.4g} "
            f"(tolerance {result['logits']['tolerance']:.3g})"
        )
    result["ok"] = not errors
    if errors:
        result["error"] = "; ".join(errors)
    return result


def _logits(gguf: str, tok: Any, merged: str, judged: bool) -> dict[str, Any]:
    import llama_cpp
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    prompt = (
        tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) if tok.chat_template else PROBES[0]
    )
    ids = tok.encode(prompt, add_special_tokens=True)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    with torch.no_grad():
        want = model(torch.tensor([ids])).logits[0, -1].numpy()
    llm = llama_cpp.Llama(
        model_path=gguf, n_ctx=512, n_threads=2, seed=0, verbose=False, logits_all=True
    )  # fresh; scores[-1] is wrong without logits_all (0.3.36)
    llm.eval(ids)
    got = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    diff = float(np.abs(got - want).max())
    tolerance = F16_TOLERANCE * max(1.0, float(np.abs(want).max()))
    return {
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "judged": judged,
        "within_tolerance": diff <= tolerance,
        "top1_match": int(got.argmax()) == int(want.argmax()),
    }


def main(argv: list[str]) -> int:
    gguf, merged, out = argv[:3]
    result = _check(gguf, merged, "--check-logits" in argv)
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
