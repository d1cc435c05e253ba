"""The prompt format a run was trained on, derived from Axolotl's own prompters and chat template
logic for the run's rendered config, and cached in the run directory (`prompt-format.json`) so
that `axowrap chat` on a GGUF does not import Axolotl.

    alpaca   the prompt text Axolotl's prompter builds around {instruction} and {input}; the
             model continues it and ends its answer with the tokenizer's EOS
    chat     the chat template Axolotl rendered the messages with; an assistant turn ends with
             the token the template puts after its content (`<|im_end|>` for ChatML)
    text     raw text (completion): no prompt, no end of turn
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.hashing import text_sha256
from axowrap.run.rundir import RunDir
from axowrap.yamlio import atomic_write

# Stand-ins rendered through Axolotl's prompter; replaced by text, never by str.format (a user's
# prompt may hold braces).
INSTRUCTION = "\x1finstruction\x1f"
INPUT = "\x1finput\x1f"
CONTENT = "\x1fcontent\x1f"
FILE = "prompt-format.json"
VERSION = 1


@dataclass(frozen=True)
class PromptFormat:
    kind: str  # alpaca | chat | text | preference
    with_input: str | None = None  # alpaca: the prompt with INSTRUCTION and INPUT stand-ins
    no_input: str | None = None  # alpaca: the prompt when the input field is empty
    fields: dict[str, str] | None = None  # alpaca: instruction/input/output column names of the data
    chat_template: str | None = None  # chat and preference: the Jinja template training used
    end_of_turn: tuple[str, ...] = ()  # tokens that end an assistant answer as trained
    trained_eot: tuple[str, ...] = ()  # chat: the end-of-turn tokens Axolotl was told to label
    add_bos: bool = False  # alpaca: the tokenizer's BOS goes before the prompt
    bos_token: str | None = None
    eos_token: str | None = None

    @property
    def multi_turn(self) -> bool:
        return self.kind in ("chat", "preference")

    def alpaca_prompt(self, instruction: str, input_text: str = "") -> str:
        if self.with_input is None or self.no_input is None:
            raise AxowrapError(f"a {self.kind} run has no alpaca prompt")
        if input_text:
            return self.with_input.replace(INSTRUCTION, instruction).replace(INPUT, input_text)
        return self.no_input.replace(INSTRUCTION, instruction)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The training chat template applied to `messages`, ending with the assistant's header."""
        return render_chat_template(self, messages)

    def prompt(self, messages: list[dict[str, str]], input_text: str = "") -> str:
        """The prompt text for a conversation: alpaca runs answer the last user message alone."""
        if self.kind == "alpaca":
            return self.alpaca_prompt(messages[-1]["content"], input_text)
        if self.kind == "text":
            return messages[-1]["content"]
        return self.chat_prompt(messages)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["end_of_turn"] = list(self.end_of_turn)
        data["trained_eot"] = list(self.trained_eot)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptFormat:
        data = dict(data)
        data["end_of_turn"] = tuple(data.get("end_of_turn") or ())
        data["trained_eot"] = tuple(data.get("trained_eot") or ())
        return cls(**data)


def render_chat_template(fmt: PromptFormat, messages: list[dict[str, str]]) -> str:
    """Render the training template the way transformers does (jinja2's immutable sandbox,
    trim_blocks and lstrip_blocks, `raise_exception`), without importing transformers."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise AxowrapError(f"the chat template refused the conversation: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = raise_exception
    try:
        template = env.from_string(str(fmt.chat_template))
        return template.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=fmt.bos_token or "",
            eos_token=fmt.eos_token or "",
        )
    except (jinja2.TemplateError, TypeError, ValueError, LookupError, ArithmeticError) as exc:
        # a template's own expressions fail as Python does (`'a' + 1`), not only as Jinja errors
        raise AxowrapError(f"the training chat template does not render: {exc}") from None


def dataset_kind(entry: dict[str, Any]) -> str:
    """The prompt kind of one rendered Axolotl `datasets:` entry."""
    ds_type = entry.get("type")
    if isinstance(ds_type, dict) or ds_type == "alpaca":
        return "alpaca"
    if ds_type == "completion":
        return "text"
    if isinstance(ds_type, str) and ds_type.startswith("chat_template."):
        return "preference"
    if ds_type == "chat_template":
        return "chat"
    raise AxowrapError(
        f"dataset type {ds_type!r}: axowrap cannot tell its prompt format",
        hint="chat and the stop audit know alpaca, chat_template and completion datasets",
    )


def tokenizer_source(config: dict[str, Any], model_dir: Path | None) -> str:
    """Where the tokenizer as trained lives: the merged model or adapter folder, else the base."""
    if model_dir is not None and (model_dir / "tokenizer_config.json").is_file():
        return str(model_dir)
    return str(config.get("tokenizer_config") or config["base_model"])


def derive_format(config: dict[str, Any], model_dir: Path | None, dataset: int = 0) -> PromptFormat:
    """The prompt format of dataset `dataset`, through Axolotl's own code (imports Axolotl)."""
    from transformers import AutoTokenizer

    entry = dict(config["datasets"][dataset])
    kind = dataset_kind(entry)
    tok: Any = AutoTokenizer.from_pretrained(tokenizer_source(config, model_dir))
    common = {"bos_token": tok.bos_token, "eos_token": tok.eos_token}
    if kind == "text":
        return PromptFormat(kind="text", **common)
    if kind == "alpaca":
        return _alpaca(entry, tok, config, common)
    return _chat(kind, entry, tok, config, common)


def _alpaca(entry: dict[str, Any], tok: Any, config: dict[str, Any], common: dict[str, Any]) -> PromptFormat:
    from axolotl.prompt_strategies import load
    from axolotl.prompters import AlpacaPrompter
    from axolotl.utils.dict import DictDefault

    ds_type = entry["type"]
    if isinstance(ds_type, dict):  # Axolotl's user_defined strategy: its prompter, its system prompt
        strategy = load("user_defined", tok, DictDefault(config), dict(ds_type))
        system = ds_type.get("system_prompt", "")

        def build(instruction: str, input_text: str) -> str:
            return str(next(iter(strategy.prompter.build_prompt_w_system(system, instruction, input_text))))

        fields = {k: ds_type.get(f"field_{k}", k) for k in ("instruction", "input", "output")}
    else:
        prompter = AlpacaPrompter(entry.get("prompt_style"))

        def build(instruction: str, input_text: str) -> str:
            return str(next(iter(prompter.build_prompt(instruction, input_text))))

        fields = {"instruction": "instruction", "input": "input", "output": "output"}
    add_bos = bool(tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id])
    return PromptFormat(
        kind="alpaca",
        with_input=build(INSTRUCTION, INPUT),
        no_input=build(INSTRUCTION, ""),
        fields=fields,
        end_of_turn=(str(tok.eos_token),),  # Axolotl appends EOS to every alpaca answer
        add_bos=add_bos,
        **common,
    )


def _chat(kind: str, entry: dict[str, Any], tok: Any, config: dict[str, Any], common: dict[str, Any]) -> PromptFormat:
    from axolotl.utils.chat_templates import get_chat_template_from_config
    from axolotl.utils.dict import DictDefault

    template = get_chat_template_from_config(DictDefault(config), tokenizer=tok)
    fmt = PromptFormat(kind=kind, chat_template=template, **common)
    eot = template_end_of_turn(fmt, tok)
    trained: tuple[str, ...] = ()
    if kind == "chat":
        from axolotl.prompt_strategies.chat_template import load

        strategy = load(tok, DictDefault(config), DictDefault(entry))
        trained = tuple(strategy.eot_tokens)
    return PromptFormat(kind=kind, chat_template=template, end_of_turn=eot, trained_eot=trained, **common)


def template_end_of_turn(fmt: PromptFormat, tok: Any) -> tuple[str, ...]:
    """The special token the template writes right after an assistant message's content."""
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": CONTENT}]
    text = render_chat_template(PromptFormat(**{**fmt.to_json(), "end_of_turn": (), "trained_eot": ()}), messages)
    after = text.split(CONTENT, 1)[1].lstrip(" ") if CONTENT in text else ""
    ids = tok.encode(after, add_special_tokens=False)[:1]
    special = set(tok.all_special_ids) | set(getattr(tok, "added_tokens_decoder", {}) or {})
    if ids and ids[0] in special:
        return (str(tok.convert_ids_to_tokens(ids[0])),)
    return (str(tok.eos_token),) if after.startswith(str(tok.eos_token)) else ()


def config_sha256(run: RunDir) -> str:
    return text_sha256(run.config.read_text(encoding="utf-8"))


def load_format(run: RunDir, config: dict[str, Any], *, refresh: bool = False) -> PromptFormat:
    """The run's prompt format: the cached one when the config is unchanged, else derived again."""
    path = run.root / FILE
    digest = config_sha256(run)
    model_dir = next((d for d in (run.merged, run.adapter) if (d / "tokenizer_config.json").is_file()), None)
    if not refresh and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION and data.get("config_sha256") == digest:
                return PromptFormat.from_json(data["format"])
        except (OSError, ValueError, TypeError, KeyError):
            pass  # derived again below
    fmt = derive_format(config, model_dir)
    record = {"version": VERSION, "config_sha256": digest, "format": fmt.to_json()}
    atomic_write(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return fmt
