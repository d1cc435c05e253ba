"""Axolotl's own refusals that need no GPU, checked statically: deprecated and removed keys
(with Axolotl's message), keys it refuses together, and the cross-field rules of its
validators, each a small function here.

The tables (deprecations, mutually exclusive keys) are generated from the installed release
(axowrap.config.tablegen); the rules are written out, and tests/test_axolotl_referee.py runs
each against Axolotl's validate_config. `SAYS` names the words Axolotl's own error uses, so
that test can tell the two found the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from axowrap.problems import Problem
from axowrap.schema_check import coerces
from axowrap.yamlio import Document

Rule = Callable[[dict[str, Any], dict[str, Any]], Iterator[tuple[tuple, str, str]]]


def deprecated(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    for key, entry in tables["deprecated"].items():
        if key not in data or data[key] is None:
            continue
        if entry["when"] == "truthy" and not data[key]:
            continue
        refused = entry["severity"] == "error"
        yield doc.problem(
            (*prefix, key),
            f"{'Axolotl refuses it' if refused else 'Axolotl warns'}: {entry['message']}",
            severity=entry["severity"],
            # Axolotl refuses the whole config in these words: the referee pins it to this key
            extra={"axolotl_says": entry["message"]} if refused else {},
        )


def fsdp1_only(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    """A release that removed FSDP1 (0.21): `fsdp_version: 1` and FSDP1's fsdp_config settings,
    refused or dropped with a warning, in Axolotl's words (the table is probed per release)."""
    table = tables.get("fsdp1_only") or {}
    fsdp = data.get("fsdp_config")
    if not table or not isinstance(fsdp, dict):
        return
    version = table.get("version") or ""
    head = "fsdp_version: 1 "
    for path, value in (
        (("fsdp_version",), data.get("fsdp_version")),
        (("fsdp_config", "fsdp_version"), fsdp.get("fsdp_version")),
        (("fsdp_config", "version"), fsdp.get("version")),
    ):
        if version.startswith(head) and value is not None and str(value) != "2":
            says = version[len(head) :]
            yield doc.problem(
                (*prefix, *path),
                f"Axolotl refuses it: fsdp_version: {value} {says}",
                hint="write `fsdp_version: 2`",
                extra={"axolotl_says": says},
            )
            break
    for key in fsdp:
        name = (
            key[len("fsdp_") :] if isinstance(key, str) and key.startswith("fsdp_") and key != "fsdp_version" else key
        )
        if name in table.get("refused", {}):
            message = table["refused"][name]
            yield doc.problem(
                (*prefix, "fsdp_config", key), f"Axolotl refuses it: {message}", extra={"axolotl_says": message}
            )
        elif name in table.get("ignored", {}):
            yield doc.problem(
                (*prefix, "fsdp_config", key),
                f"Axolotl warns and drops it: {table['ignored'][name]}",
                hint="remove it",
                severity="warning",
            )


def conflicts(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    for pair in tables["conflicts"]:
        a, b = pair["keys"]
        if _truthy(data.get(a)) and _truthy(data.get(b)):
            yield doc.problem(
                (*prefix, b), f"Axolotl refuses {a} and {b} together: {pair['message']}", hint=f"remove {a} or {b}"
            )


def _truthy(value: Any) -> bool:
    if isinstance(value, str) and coerces(value, "boolean"):
        return value.strip().lower() not in ("0", "off", "f", "false", "n", "no")
    return bool(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and coerces(value, "number"):
        return float(value)
    return None


def fsdp_version(data: dict[str, Any], tables: dict[str, Any]) -> str | None:
    """The FSDP version a config gets (top level, fsdp_config's, else the release's default)."""
    fsdp = data.get("fsdp_config")
    if not isinstance(fsdp, dict):
        return None
    for value in (data.get("fsdp_version"), fsdp.get("fsdp_version"), fsdp.get("version")):
        if value is not None:
            return str(value)
    default = tables.get("defaults", {}).get("fsdp_version")
    return None if default is None else str(default)


def _early_stopping(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if not _truthy(data.get("early_stopping_patience")):
        return
    save, every = _num(data.get("save_steps")), _num(data.get("eval_steps"))
    if not save or not every:
        yield ("early_stopping_patience",), "needs save_steps and eval_steps set, eval_steps dividing save_steps", ""
    elif save % every:
        yield (
            ("eval_steps",),
            f"early_stopping_patience needs eval_steps ({every:g}) to divide save_steps ({save:g})",
            "",
        )


def _best_needs_metric(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if data.get("save_strategy") == "best" and not data.get("metric_for_best_model"):
        yield ("save_strategy",), "save_strategy: best needs metric_for_best_model", "metric_for_best_model: eval_loss"


def _strategy_steps(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    for kind in ("save", "eval"):
        strategy, steps = data.get(f"{kind}_strategy"), data.get(f"{kind}_steps")
        if strategy and steps and strategy != "steps":
            yield (f"{kind}_steps",), f"{kind}_steps needs {kind}_strategy: steps (it is {strategy!r})", ""
    every = data.get("evals_per_epoch")
    if every and data.get("eval_strategy") and data.get("eval_strategy") != "steps":
        yield ("eval_strategy",), "evals_per_epoch needs eval_strategy empty or `steps`", ""


def _eval_without_eval_data(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if (
        _num(data.get("val_set_size")) == 0
        and (data.get("eval_steps") or data.get("eval_strategy"))
        and not data.get("test_datasets")
        and data.get("eval_strategy") != "no"
    ):
        yield ("val_set_size",), "eval_steps/eval_strategy need evaluation data (val_set_size is 0)", ""
    if _num(data.get("val_set_size")) and data.get("test_datasets"):
        yield ("val_set_size",), "a non-zero val_set_size cannot be used with test_datasets", ""


def _quantized_needs_adapter(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if not data.get("adapter") and not data.get("inference"):
        for key in ("load_in_8bit", "load_in_4bit"):
            if _truthy(data.get(key)):
                yield (key,), f"{key} needs an adapter (lora/qlora): full fine-tuning cannot load quantized", ""


def _fsdp2(data: dict[str, Any], tables: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if fsdp_version(data, tables) != "2":
        return
    if data.get("optimizer") in ("adamw_8bit", "adamw_bnb_8bit"):
        yield ("optimizer",), f"FSDP2 cannot use {data['optimizer']}", "optimizer: adamw_torch_8bit"
    written = _cpu_ram_4bit(data)
    if written and not _staged(data, tables):
        yield (
            ("fsdp_config", written),
            "FSDP2 cannot use cpu_ram_efficient_loading with load_in_4bit",
            ("qlora_sharded_model_loading: true" if (tables.get("fsdp2_qlora") or {}).get("staged") else ""),
        )


def _cpu_ram_4bit(data: dict[str, Any]) -> str | None:
    """The fsdp_config key (as written) that turns cpu_ram_efficient_loading on beside load_in_4bit."""
    fsdp = data.get("fsdp_config")
    if not isinstance(fsdp, dict) or not _truthy(data.get("load_in_4bit")):
        return None
    written = next((k for k in ("cpu_ram_efficient_loading", "fsdp_cpu_ram_efficient_loading") if k in fsdp), None)
    return written if written and _truthy(fsdp[written]) else None


def _staged(data: dict[str, Any], tables: dict[str, Any]) -> bool:
    """Does the release load these 4-bit weights CPU-staged (0.21: qlora_sharded_model_loading,
    on by default for adapter: qlora)? The release's behaviour is probed (tables' fsdp2_qlora)."""
    table = tables.get("fsdp2_qlora") or {}
    if not table or table.get("refused") is not None:
        return False
    sharded = data.get("qlora_sharded_model_loading")
    return _truthy(sharded) if sharded is not None else data.get("adapter") == "qlora"


def _staged_nf4(data: dict[str, Any], tables: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if fsdp_version(data, tables) != "2" or not _cpu_ram_4bit(data) or not _staged(data, tables):
        return
    for key, message in (tables.get("fsdp2_qlora") or {}).get("staged", {}).items():
        if _truthy(data.get(key)):
            yield (key,), message, ""
            return


def _falcon_fsdp(data: dict[str, Any], tables: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if "falcon" not in str(data.get("base_model") or "").lower():
        return
    for key in tables.get("falcon_fsdp", ()):  # the FSDP key the release checks (probed)
        if data.get(key):
            yield (key,), "FSDP is not supported for falcon models", ""
            return


def _expert_parallel(data: dict[str, Any], tables: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    """The expert-parallel topology rules, where the release enforces them (probed: 0.21)."""
    size = _num(data.get("expert_parallel_size"))
    rules = tables.get("expert_parallel") or {}
    if not size or size <= 1:
        return
    fsdp = data.get("fsdp_config")
    if not isinstance(fsdp, dict) or not fsdp:
        if rules.get("needs_fsdp"):
            yield ("expert_parallel_size",), "expert_parallel_size > 1 needs FSDP2 (an fsdp_config block)", ""
        return
    for key in ("state_dict_type", "final_state_dict_type") if rules.get("state_dict") else ():
        written = next((k for k in (key, f"fsdp_{key}") if k in fsdp), None)
        value = fsdp.get(written) if written else None
        if key == "state_dict_type" and value is None:
            yield ("fsdp_config",), "expert_parallel_size > 1 needs fsdp_config.state_dict_type: FULL_STATE_DICT", ""
        elif value is not None and value != "FULL_STATE_DICT":
            yield (
                ("fsdp_config", written),
                f"expert_parallel_size > 1 needs {key}: FULL_STATE_DICT (not {value})",
                f"{key}: FULL_STATE_DICT",
            )


def _jinja_template(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if data.get("chat_template") == "jinja" and not data.get("chat_template_jinja"):
        yield ("chat_template",), "chat_template: jinja needs chat_template_jinja (the template text)", ""


def _streaming_needs_max_steps(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if data.get("pretraining_dataset") and not data.get("max_steps"):
        yield ("pretraining_dataset",), "a pretraining_dataset (iterable) needs max_steps", "set max_steps"


def _ebft(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if data.get("rl") != "ebft":
        return
    if not data.get("ebft"):
        yield ("rl",), "rl: ebft needs an `ebft:` section (mode: structured or strided)", ""
    elif (
        (data.get("ebft") or {}).get("mode") == "strided"
        and data.get("torch_compile") is True
        and data.get("gradient_checkpointing")
    ):
        yield ("torch_compile",), "EBFT strided mode cannot use torch_compile with gradient_checkpointing", ""


def _simpo_warmup(data: dict[str, Any], _: dict[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    if data.get("rl") == "simpo" and data.get("warmup_ratio"):
        yield ("warmup_ratio",), "the simpo trainer does not take warmup_ratio", "use warmup_steps"


# rule -> the words of Axolotl's own error (how the referee test matches the two)
SAYS: dict[Rule, str] = {
    _early_stopping: "`early_stopping_patience` requires",
    _best_needs_metric: "save_strategy: 'best' requires metric_for_best_model",
    _strategy_steps: "mismatch",
    _eval_without_eval_data: "val_set_size",
    _quantized_needs_adapter: "not supported without setting an adapter",
    _fsdp2: "FSDP2",
    _staged_nf4: "CPU-staged NF4",
    _falcon_fsdp: "FSDP is not supported for falcon models",
    _expert_parallel: "expert_parallel_size (",
    _jinja_template: "chat_template_jinja is required",
    _streaming_needs_max_steps: "max_steps must be set",
    _ebft: "EBFT",
    _simpo_warmup: "warmup_ratio is not supported with the simpo trainer",
}


class _Reads(dict[str, Any]):
    """The config as a rule sees it, noting each key the rule reads."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


def cross_field(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    """Each rule's findings; one that read a key a listed plugin rewrites first (tables'
    `rewritten`, set by axowrap.config.check) is only a warning: the plugin may change it."""
    rewritten = tables.get("rewritten") or {}
    for rule, says in SAYS.items():
        seen = _Reads(data)
        for path, message, fix in rule(seen, tables):
            touched = sorted(k for k in seen.read if k in rewritten)
            unsure = (
                f" (unsure: the plugin {rewritten[touched[0]].rsplit('.', 1)[-1]} rewrites "
                f"{', '.join(touched)} before Axolotl validates; `validate --deep` runs it)"
                if touched
                else ""
            )
            yield doc.problem(
                (*prefix, *path),
                f"Axolotl refuses this: {message}{unsure}",
                hint=f"write `{fix}`" if fix else None,
                severity="warning" if touched else "error",
                extra={"axolotl_says": says},
            )


def free_form_numbers(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    """Numbers written so YAML 1.1 reads them as text (`1e-6`), inside mappings Axolotl passes on
    unconverted to code that computes with them."""
    custom = data.get("optimizer") in tables["optimizers"]["axolotl"]
    # transformers converts some scheduler arguments itself (float(num_cycles)): those are fine
    casts = tables["lr_schedulers"]["casts"].get(str(data.get("lr_scheduler") or "cosine"), [])
    for key, reaches in (("lr_scheduler_kwargs", "the scheduler"), ("optim_args", "the optimizer")):
        mapping = data.get(key)
        if not isinstance(mapping, dict) or (key == "optim_args" and not custom):
            continue  # a transformers optimizer reads optim_args as "k=v" text: the same either way
        for name, value in mapping.items():
            if key == "lr_scheduler_kwargs" and name in casts:
                continue
            if isinstance(value, str) and coerces(value, "number") and not coerces(value, "boolean"):
                yield doc.problem(
                    (*prefix, key, name),
                    f"{value!r} stays a string here (YAML 1.1 reads it as text and Axolotl does not convert "
                    f"free-form mappings): {reaches} fails computing with it",
                    hint=f"write it with a dot in the mantissa: {_float_text(value)}",
                )


def _float_text(value: str) -> str:
    mantissa, sep, exp = value.strip().lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}{'e' + exp if sep else ''}"
