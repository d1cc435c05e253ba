"""Token statistics with the base model's own tokenizer when it is a local folder (offline),
else a stated approximation (4 characters per token).

Rows are tokenized in batches with the fast (Rust) tokenizer: prompt and target separately,
so the trainable share after masking (`train_on_inputs: false` trains the target only) and
the rows Axolotl would drop or cut at `sequence_len` come out without rendering every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.data.formats import Layout
from axowrap.data.texts import conversation, prompt_and_target

CHARS_PER_TOKEN = 4
TURN_OVERHEAD = 4  # role markers per chat turn (ChatML: <|im_start|>role\n ... <|im_end|>\n)
BATCH = 2048
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1)]


@dataclass
class TokenCounter:
    """Feed rows with `add`; `result()` gives the length distribution and masking figures."""

    layout: Layout
    tokenizer: Any = None  # a transformers tokenizer, or None: approximate
    name: str = "approximate"
    sequence_len: int | None = None
    train_on_inputs: bool = False
    prompt_layout: str | None = None  # alpaca prompt layout with {instruction}/{input}
    lengths: list[int] = field(default_factory=list)
    trainable: int = 0
    total: int = 0
    cut: int = 0
    over: int = 0
    zero_trainable: int = 0
    sample: dict[str, Any] | None = None
    _prompts: list[str] = field(default_factory=list)
    _targets: list[str] = field(default_factory=list)
    _turns: list[int] = field(default_factory=list)

    @classmethod
    def approximate(cls, layout: Layout, **kw: Any) -> TokenCounter:
        return cls(layout, **kw)

    @property
    def note(self) -> str:
        if self.tokenizer is None:
            return f"token counts are approximate ({CHARS_PER_TOKEN} characters per token, {TURN_OVERHEAD} per chat turn): the base model's tokenizer is not a local folder"
        return f"token counts use the base model's tokenizer ({self.name})"

    def add(self, row: dict[str, Any]) -> None:
        if self.sample is None:
            self.sample = self._render_sample(row)
        prompt, target = self._texts(row)
        self._prompts.append(prompt)
        self._targets.append(target)
        if len(self._prompts) >= BATCH:
            self._flush()

    def _texts(self, row: dict[str, Any]) -> tuple[str, str]:
        if self.layout.format == "alpaca" and self.prompt_layout:
            f = self.layout.fields
            values = {"instruction": row.get(f["instruction"]) or "", "input": row.get(f["input"]) or ""}
            prompt = self.prompt_layout.replace("{instruction}", str(values["instruction"])).replace(
                "{input}", str(values["input"])
            )
            self._turns.append(0)
            return prompt, str(row.get(f["output"]) or "")
        turns = conversation(self.layout, row)
        self._turns.append(0 if self.layout.format in ("alpaca", "text") else len(turns))
        return prompt_and_target(self.layout, row)

    def _count(self, texts: list[str], special: bool) -> list[int]:
        if self.tokenizer is None:
            return [math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts]
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:  # the Rust tokenizer: lengths without building Python id lists
            encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
            return [len(e) for e in encode(texts, add_special_tokens=special)]
        ids = self.tokenizer(texts, add_special_tokens=special, return_attention_mask=False)["input_ids"]
        return [len(x) for x in ids]

    def _flush(self) -> None:
        if not self._prompts:
            return
        text_only = self.layout.format == "text"
        prompts = self._count(self._prompts, special=True)
        targets = self._count(self._targets, special=False)
        seq = self.sequence_len
        for p, t, turns in zip(prompts, targets, self._turns, strict=True):
            if text_only:
                p, t = (1 if self.tokenizer is not None else 0), t
            full = p + t + 1 + turns * TURN_OVERHEAD * (self.tokenizer is None)  # +1: EOS after the target
            learn = full if (self.train_on_inputs or text_only) else t + 1
            self.lengths.append(full)
            self.total += full
            if seq and full > seq:
                self.over += 1
                self.cut += full - seq
                learn = max(0, min(learn, seq - (full - learn)))
            self.trainable += learn
            self.zero_trainable += learn == 0
        self._prompts.clear()
        self._targets.clear()
        self._turns.clear()

    def _render_sample(self, row: dict[str, Any]) -> dict[str, Any]:
        """The first row as the model will see it, and whether an EOS ends its target."""
        turns = conversation(self.layout, row)
        eos = getattr(self.tokenizer, "eos_token", None)
        if self.layout.format == "alpaca" and self.prompt_layout:
            prompt, target = self._texts(row)
            self._turns.pop()
            text = prompt + target + (eos or "")
            return {
                "text": text[:1200],
                "eos": f"yes: Axolotl appends {eos!r} after alpaca outputs" if eos else "unknown (no tokenizer)",
            }
        if self.tokenizer is None or not getattr(self.tokenizer, "chat_template", None) or self.layout.format == "text":
            return {
                "text": "\n".join(f"{r}: {c}" for r, c in turns)[:1200],
                "eos": "unknown (no tokenizer chat template here)",
            }
        messages = [{"role": r, "content": c} for r, c in turns]
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        except Exception as exc:  # a template may refuse a row (e.g. no system role): say so, go on
            return {
                "text": "\n".join(f"{r}: {c}" for r, c in turns)[:1200],
                "eos": f"unknown: the chat template refused the first row ({exc})",
            }
        last = next((c for r, c in reversed(turns) if r == "assistant" and c), "")
        after = text[text.rfind(last) + len(last) :] if last and last in text else ""
        verdict = (
            f"yes: {eos!r} follows the last assistant turn"
            if eos and after.lstrip().startswith(eos)
            else (
                f"no: the template ends assistant turns with {after.strip()[:20]!r}, not the EOS token {eos!r}; generation may not stop"
            )
        )
        return {"text": text[:1200], "eos": verdict}

    def result(self) -> dict[str, Any]:
        self._flush()
        ordered = sorted(self.lengths)
        return {
            "tokenizer": self.name,
            "rows": len(ordered),
            "tokens": self.total,
            "p50": percentile(ordered, 0.5),
            "p90": percentile(ordered, 0.9),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else 0,
            "sequence_len": self.sequence_len,
            "rows_over_sequence_len": self.over,
            "truncated_token_share": round(self.cut / self.total, 4) if self.total else 0.0,
            "trainable_token_fraction": round(self.trainable / self.total, 4) if self.total else 0.0,
            "zero_trainable_rows": self.zero_trainable,
            "sample": self.sample,
        }


def local_tokenizer(folder: Path) -> Any:
    """The tokenizer saved in `folder` (offline), or None when the folder has none."""
    if not folder.is_dir() or not any((folder / f).exists() for f in TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def counter_for_spec(spec: Any, entry: dict[str, Any], layout: Layout) -> TokenCounter:
    """A counter with the spec's model tokenizer (when local), sequence_len and masking."""
    from axowrap.config.render import DEFAULT_PROMPT

    training = spec.data.get("training") or {}
    kw: dict[str, Any] = {
        "sequence_len": training.get("sequence_len"),
        "train_on_inputs": bool(training["train_on_inputs"]),
    }
    if layout.format == "alpaca":
        kw["prompt_layout"] = entry.get("prompt") or DEFAULT_PROMPT
    folder = spec.local_path(spec.data["base_model"], model=True)
    tokenizer = local_tokenizer(folder) if folder is not None else None
    if tokenizer is None:
        return TokenCounter.approximate(layout, **kw)
    return TokenCounter(layout, tokenizer=tokenizer, name=str(spec.data["base_model"]), **kw)
