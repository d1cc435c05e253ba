"""Values Axolotl takes as free strings but only some of which work: optimizer, lr_scheduler,
adapter, attn_implementation and each dataset's `type`.

The schema says `str` for these, so a typo validates and fails later: `optimizer` and
`lr_scheduler` at TrainingArguments (minutes in), `adapter` in validate_config, a dataset
`type` during data preparation ("unhandled prompt tokenization strategy"). The known values
are the release's generated tables (axowrap.config.tablegen). A dotted type whose module is
not one of Axolotl's is a custom loader (a user's module): only `--deep` can import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from axowrap.problems import Problem, did_you_mean
from axowrap.yamlio import Document

DATASET_LISTS = ("datasets", "test_datasets", "pretraining_dataset")


def _choice(doc: Document, path: tuple, value: str, what: str, known: list[str], fails: str) -> Problem:
    guess = did_you_mean(value, known)
    return doc.problem(
        path,
        f"{value!r} is not {what} Axolotl knows; {fails}" + (f"; did you mean {guess!r}?" if guess else ""),
        hint=None if guess else f"one of: {', '.join(sorted(known))}",
    )


def value_problems(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    opt, sched, adapter = data.get("optimizer"), data.get("lr_scheduler"), data.get("adapter")
    optimizers = tables["optimizers"]
    if isinstance(opt, str) and opt not in optimizers["transformers"] + optimizers["axolotl"]:
        if opt in optimizers["unhandled"]:
            yield doc.problem(
                (*prefix, "optimizer"),
                f"Axolotl lists {opt!r} but its trainer builder has no branch for it: "
                "training fails with 'Unhandled optimizer'",
                hint="pick another optimizer",
            )
        else:
            known = optimizers["transformers"] + optimizers["axolotl"]
            yield _choice(
                doc, (*prefix, "optimizer"), opt, "an optimizer", known, "training fails at TrainingArguments"
            )
    schedulers = tables["lr_schedulers"]["transformers"] + tables["lr_schedulers"]["axolotl"]
    if isinstance(sched, str) and sched not in schedulers:
        yield _choice(
            doc, (*prefix, "lr_scheduler"), sched, "a scheduler", schedulers, "training fails at TrainingArguments"
        )
    if isinstance(adapter, str) and adapter:
        yield from _adapter(doc, data, prefix, tables, adapter)
    yield from _attention(doc, data, prefix, tables)
    for key in DATASET_LISTS:
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            kind = entry.get("type") if isinstance(entry, dict) else None
            if isinstance(kind, str):
                rl = data.get("rl") if key != "pretraining_dataset" else None
                yield from dataset_type(doc, (*prefix, key, i, "type"), kind, rl, tables)
            template = entry.get("chat_template") if isinstance(entry, dict) else None
            if isinstance(template, str):
                yield from _chat_template(doc, (*prefix, key, i, "chat_template"), template, entry, tables)


def _adapter(
    doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any], adapter: str
) -> Iterator[Problem]:
    builtin, plugins = tables["adapters"]["builtin"], tables["adapters"]["plugins"]
    plugins_listed = data.get("plugins")
    listed: list[Any] = plugins_listed if isinstance(plugins_listed, list) else []
    if adapter in builtin:
        return
    plugin = plugins.get(adapter)
    if plugin and not any(str(p).rsplit(".", 1)[-1] == plugin.rsplit(".", 1)[-1] for p in listed):
        yield doc.problem(
            (*prefix, "adapter"),
            f"adapter {adapter!r} comes from the plugin {plugin}, which is not listed: Axolotl refuses the config",
            hint=f"add `plugins: [{plugin}]`",
        )
    elif not plugin:
        yield _choice(
            doc, (*prefix, "adapter"), adapter, "an adapter", [*builtin, *plugins], "Axolotl refuses the config"
        )


def _attention(doc: Document, data: dict[str, Any], prefix: tuple, tables: dict[str, Any]) -> Iterator[Problem]:
    att = tables["attention"]
    impl = data.get("attn_implementation")
    flags = sorted(f for f in att["legacy_flags"] if data.get(f))
    if isinstance(impl, str) and impl not in att["implementations"] and "/" not in impl:
        if impl in att["aliases"]:
            yield doc.problem(
                (*prefix, "attn_implementation"),
                f"Axolotl does not accept the short name {impl!r}",
                hint=f"write `attn_implementation: {att['aliases'][impl]}`",
            )
        else:
            yield _choice(
                doc,
                (*prefix, "attn_implementation"),
                impl,
                "an attention backend",
                att["implementations"],
                "Axolotl refuses the config (a hub kernel is written `org/name`)",
            )
    if impl and flags:
        yield doc.problem(
            (*prefix, flags[0]),
            f"attn_implementation is set, and so is the legacy flag(s) {', '.join(flags)}: Axolotl refuses both",
            hint="keep only `attn_implementation`",
        )


def _chat_template(
    doc: Document, path: tuple, name: str, entry: dict[str, Any], tables: dict[str, Any]
) -> Iterator[Problem]:
    """A dataset's `chat_template` is a free string; data preparation looks it up by name."""
    known = tables["chat_templates"]
    if name in known["names"] or name == known["tokenizer"]:
        return
    if name == known["jinja"]:
        if not entry.get("chat_template_jinja"):
            yield doc.problem(path, "chat_template: jinja needs chat_template_jinja (the template) beside it")
        return
    if name.startswith(known["fallback_prefix"]):
        rest = name[len(known["fallback_prefix"]) :]
        if rest not in known["names"]:
            yield doc.problem(
                path,
                f"no chat template {rest!r} to fall back to: data preparation fails when the tokenizer has none",
                hint=f"one of: {', '.join(known['names'])}",
                severity="warning",
            )
        return
    yield _choice(
        doc,
        path,
        name,
        "a chat template",
        [*known["names"], known["tokenizer"], known["jinja"]],
        "data preparation fails ('Template not found')",
    )


def dataset_type(doc: Document, path: tuple, kind: str, rl: Any, tables: dict[str, Any]) -> Iterator[Problem]:
    """Will Axolotl's loaders resolve the dataset `type` string `kind` (under `rl`)?"""
    types = tables["dataset_types"]
    for prefix, message in tables.get("removed_types", {}).items():
        if kind.startswith(prefix):
            yield doc.problem(path, f"Axolotl refuses it: {message}")
            return
    if rl:
        loader = types["rl_dispatch"].get(str(rl), "dpo")
        known, modules = types["rl"].get(loader, []), types["rl_modules"].get(loader, [])
        fails = f"data preparation fails ('Failed to load dataset transform function', rl: {rl})"
    else:
        base = kind.split(":", 1)[0]
        if kind in types["sft"] or base in types["sft_handlers"] or kind.startswith("stepwise_supervised"):
            yield from _prompt_style(doc, path, kind, types)
            return
        known = [*types["sft"], *types["sft_handlers"], *types["bradley_terry"]]
        modules = types["sft_modules"]
        fails = "data preparation fails ('unhandled prompt tokenization strategy')"
        if kind.startswith("bradley_terry") and kind not in types["bradley_terry"]:
            yield _choice(doc, path, kind, "a Bradley-Terry type", types["bradley_terry"], fails)
            return
    if kind in known:
        return
    module = kind.rsplit(".", 1)[0] if "." in kind else kind
    if "." in kind and module.split(".")[0] not in modules:
        return  # `my_module.my_function`: a custom loader; --deep imports it
    if "." not in kind and not did_you_mean(kind, known):
        # a bare name could be a user's module (its `default`/`load`); only --deep can tell
        yield doc.problem(
            path,
            f"{kind!r} is not one of Axolotl's dataset types; unless it is your own module, {fails}",
            hint="`axowrap validate --deep` tries to import it",
            severity="warning",
        )
        return
    yield _choice(doc, path, kind, f"a dataset type{f' for rl: {rl}' if rl else ''}", known, fails)


def _prompt_style(doc: Document, path: tuple, kind: str, types: dict[str, Any]) -> Iterator[Problem]:
    base, _, style = kind.partition(":")
    if style and base in types["sft_handlers"] and style not in types["prompt_styles"]:
        yield _choice(
            doc, path, kind, "a prompt style", [f"{base}:{s}" for s in types["prompt_styles"]], "Axolotl ignores it"
        )
