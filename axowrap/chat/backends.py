"""The models `axowrap chat` talks to, each answering one prompt text as a stream of text pieces.

    hf      Transformers: the merged model, the base + the LoRA adapter (peft), or the base alone;
            stops where the model's own generation_config says (as vLLM and `generate` do)
    gguf    llama.cpp (llama-cpp-python) on one of the run's GGUF files; stops on llama.cpp's
            end-of-generation tokens (as `llama-server` and Ollama do)

Greedy unless a temperature is given. Each `stream` records how it ended in `last`:
finish_reason `stop` (the model ended its answer) or `length` (max_tokens reached).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.chat.format import PromptFormat


@dataclass
class Finish:
    finish_reason: str = "length"
    tokens: int = 0
    token_ids: list[int] = field(default_factory=list)


class HFBackend:
    """A Transformers model; `adapter` is a peft adapter folder put on top of `model`."""

    def __init__(self, label: str, model: str, fmt: PromptFormat, *, adapter: str | None = None, tokenizer: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.label, self.fmt = label, fmt
        self.tokenizer: Any = AutoTokenizer.from_pretrained(tokenizer)
        loaded: Any = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
        if adapter:
            from peft import PeftModel

            loaded = PeftModel.from_pretrained(loaded, adapter)
        loaded.eval()
        self.model = loaded
        self.last = Finish()

    def prompt_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=self.fmt.add_bos)["input_ids"])

    def eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        return set(eos if isinstance(eos, list) else [eos] if eos is not None else [])

    def stream(self, text: str, *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        """The answer, piece by piece, from `generate` in a thread (stopped when the caller stops
        reading, e.g. on Ctrl-C)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        ids = torch.tensor([self.prompt_ids(text)])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        halt = threading.Event()
        out: dict[str, Any] = {}

        class Halt(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool)

        def generate() -> None:
            try:
                with torch.no_grad():
                    out["ids"] = self.model.generate(
                        input_ids=ids,
                        attention_mask=torch.ones_like(ids),
                        max_new_tokens=max_tokens,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([Halt()]),
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                        **sampling,
                    )
            except Exception as exc:  # re-raised in the caller's thread
                out["error"] = exc
                streamer.end()

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        try:
            yield from streamer
        finally:
            halt.set()
            worker.join()
        if "error" in out:
            raise out["error"]
        new = [int(t) for t in out["ids"][0][ids.shape[1] :]]
        stopped = bool(new) and new[-1] in self.eos_ids()
        self.last = Finish("stop" if stopped else "length", len(new), new)


class GGUFBackend:
    """llama.cpp on a GGUF file, in this process."""

    def __init__(
        self,
        label: str,
        gguf: Path,
        fmt: PromptFormat,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
    ):
        """`n_threads`, `n_threads_batch` None: llama-cpp-python's defaults (half the cores to
        generate, all of them to read the prompt)."""
        import llama_cpp

        self.label, self.fmt = label, fmt
        self.llm: Any = llama_cpp.Llama(
            model_path=str(gguf),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
            seed=0,
            verbose=False,
        )
        self.last = Finish()

    def prompt_ids(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=self.fmt.add_bos, special=True))

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def stream(self, text: str, *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        """The answer, piece by piece; stops where llama.cpp's own completion code stops (an
        end-of-generation token: EOS, EOT and the turn terminators llama.cpp recognises)."""
        return self.stream_ids(self.prompt_ids(text), max_tokens=max_tokens, temperature=temperature)

    def stream_ids(self, prompt: list[int], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        import codecs

        sampling = {"temp": temperature} if temperature > 0 else {"temp": 0.0, "top_k": 1}
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ids: list[int] = []
        reason = "length"
        self.last = Finish(reason, 0, ids)
        if max_tokens > 0:
            for token in self.llm.generate(prompt, reset=True, **sampling):
                ids.append(int(token))
                if self.is_eog(int(token)):
                    reason = "stop"
                    break
                piece = decoder.decode(self.llm.detokenize([token], prev_tokens=prompt + ids[:-1]))
                if piece:
                    yield piece
                if len(ids) >= max_tokens:
                    break
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
        self.last = Finish(reason, len(ids), ids)
