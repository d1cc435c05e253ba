"""`axowrap chat`: pick the run's model, build each prompt in the format training used, answer
it (streamed), optionally beside the base model; one-shot or an interactive session.

Interactive commands: /compare (the base model answers beside each turn, on/off), /input TEXT
(alpaca runs: the prompt's {input} field, e.g. the schema), /system TEXT (chat runs), /reset,
/help, /quit. Ctrl-C during an answer stops that answer; at the prompt it leaves (exit 130).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.chat.format import PromptFormat
from axowrap.errors import AxowrapError, UsageError
from axowrap.run.rundir import RunDir

# The GGUF `chat` prefers when none is named: the most faithful first.
GGUF_ORDER = ("f32", "f16", "bf16", "q8_0")
MODELS = ("adapter", "merged", "gguf")
HELP = "/compare  /input TEXT  /system TEXT  /reset  /help  /quit  (Ctrl-C stops an answer; at the prompt, leaves)"


@dataclass
class Settings:
    max_tokens: int = 256
    temperature: float = 0.0
    input_text: str = ""  # alpaca: the {input} field
    system: str = ""  # chat: a system message before the conversation
    compare: bool = False


@dataclass
class Answer:
    model: str
    text: str
    finish_reason: str
    tokens: int
    seconds: float
    first_token_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "answer": self.text,
            "finish_reason": self.finish_reason,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "first_token_s": None if self.first_token_s is None else round(self.first_token_s, 3),
        }


def choose_model(run: RunDir, model: str | None) -> tuple[str, str | None]:
    """(adapter | merged | gguf, GGUF type) for `--model`; None: the best artifact the run has."""
    from axowrap.serve.server import available

    ggufs = available(run) if run.gguf.is_dir() else {}
    if model is None:
        if ggufs:
            from axowrap.serve import PREFERENCE

            order = [*GGUF_ORDER, *PREFERENCE]
            return "gguf", next((t for t in order if t in ggufs), next(iter(ggufs)))
        if (run.merged / "config.json").is_file():
            return "merged", None
        if (run.adapter / "adapter_config.json").is_file() or (run.adapter / "config.json").is_file():
            return "adapter", None
        raise AxowrapError(f"{run.root}: no trained model yet", hint=f"run `axowrap train {run.root}` first")
    kind, _, gguf_type = model.partition(":")
    if kind not in MODELS:
        raise UsageError(f"--model {model!r}: expected adapter, merged, gguf or gguf:TYPE")
    if kind == "gguf":
        from axowrap.serve.server import find_gguf

        path = find_gguf(run, gguf_type or (next((t for t in GGUF_ORDER if t in ggufs), None)))
        return "gguf", path.stem.rsplit("-", 1)[-1]
    if gguf_type:
        raise UsageError(f"--model {model!r}: only gguf takes a :TYPE")
    if kind == "merged" and not (run.merged / "config.json").is_file():
        raise AxowrapError(f"{run.merged}: no merged model in this run", hint=f"run `axowrap merge {run.root}` first")
    if kind == "adapter" and not any((run.adapter / f).is_file() for f in ("adapter_config.json", "config.json")):
        raise AxowrapError(f"{run.adapter}: no trained model in this run", hint=f"run `axowrap train {run.root}` first")
    return kind, None


def open_backend(run: RunDir, config: dict[str, Any], fmt: PromptFormat, kind: str, gguf_type: str | None) -> Any:
    """The backend for `kind` (see choose_model), or for `base`."""
    from axowrap.chat.backends import GGUFBackend, HFBackend

    base = str(config["base_model"])
    if kind == "gguf":
        from axowrap.serve.server import find_gguf

        n_ctx = int(config.get("sequence_len") or 2048) + 1024
        return GGUFBackend(f"gguf:{gguf_type}", find_gguf(run, gguf_type), fmt, n_ctx=n_ctx)
    if kind == "merged":
        return HFBackend("merged", str(run.merged), fmt, tokenizer=str(run.merged))
    if kind == "adapter":
        if (run.adapter / "adapter_config.json").is_file():
            return HFBackend("adapter", base, fmt, adapter=str(run.adapter), tokenizer=str(run.adapter))
        return HFBackend("adapter", str(run.adapter), fmt, tokenizer=str(run.adapter))  # full fine-tune
    return HFBackend("base", base, fmt, tokenizer=base)


def answer(backend: Any, prompt: str, settings: Settings, write: Callable[[str], None] | None) -> Answer:
    """One answer, each piece passed to `write` as it comes. Ctrl-C stops it early (re-raised
    after the backend has stopped)."""
    start = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    stream = backend.stream(prompt, max_tokens=settings.max_tokens, temperature=settings.temperature)
    for piece in stream:
        if first is None:
            first = time.perf_counter() - start
        pieces.append(piece)
        if write is not None:
            write(piece)
    last = backend.last
    return Answer(backend.label, "".join(pieces), last.finish_reason, last.tokens, time.perf_counter() - start, first)


@dataclass
class Session:
    """A conversation with the run's model (and the base model when comparing)."""

    run: RunDir
    config: dict[str, Any]
    fmt: PromptFormat
    tuned: Any
    settings: Settings
    history: list[dict[str, str]] = field(default_factory=list)
    base: Any = None

    def base_backend(self) -> Any:
        if self.base is None:
            self.base = open_backend(self.run, self.config, self.fmt, "base", None)
        return self.base

    def prompt_for(self, text: str) -> str:
        messages = [{"role": "system", "content": self.settings.system}] if self.settings.system else []
        messages += [*self.history, {"role": "user", "content": text}]
        return self.fmt.prompt(messages, self.settings.input_text)

    def turn(
        self, text: str, write: Callable[[str], None] | None, label: Callable[[str], None] | None = None
    ) -> list[Answer]:
        """Answer one user message (and the base model beside it when comparing)."""
        prompt = self.prompt_for(text)
        backends = [self.tuned, *([self.base_backend()] if self.settings.compare else [])]
        answers = []
        for backend in backends:
            if label is not None and self.settings.compare:
                label(backend.label)
            answers.append(answer(backend, prompt, self.settings, write))
        if self.fmt.multi_turn:
            self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answers[0].text}]
        return answers


def start(
    run_path: Path, model: str | None, settings: Settings, on_loading: Callable[[str], None] | None = None
) -> Session:
    """Open the run, its prompt format and the model (loading it)."""
    import yaml

    from axowrap.chat.format import load_format
    from axowrap.run.rundir import open_run

    run = open_run(run_path)
    kind, gguf_type = choose_model(run, model)
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    fmt = load_format(run, config)
    if on_loading is not None:
        on_loading(f"{kind}:{gguf_type}" if gguf_type else kind)
    tuned = open_backend(run, config, fmt, kind, gguf_type)
    session = Session(run, config, fmt, tuned, settings)
    if settings.compare:
        session.base_backend()
    return session


def describe(session: Session) -> str:
    """The first lines of an interactive session: what is talking, in which format."""
    fmt = session.fmt
    how = {
        "alpaca": "each message is answered alone, as training did; /input TEXT sets the prompt's input field",
        "text": "each message is continued as raw text",
    }.get(fmt.kind, "the conversation is kept; /system TEXT sets a system message")
    return (
        f"chatting with {session.tuned.label} of {session.run.root.name} in its training format ({fmt.kind}): {how}\n"
        f"{HELP}"
    )
