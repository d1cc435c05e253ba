"""What the installed Axolotl really does with a config: the referee of axowrap's checks.

`verdict(config, capabilities)` runs Axolotl's own code and lists every finding with its key
path: what validate_config refuses (every refusal, not just the first: the refused key is
taken out and the config validated again), the keys its pydantic models drop at any level
(found by letting every model keep its extras for one more validation), and what fails later
in Axolotl's and transformers' own loaders: the optimizer and scheduler through Axolotl's
trainer-builder code and TrainingArguments, the scheduler's kwargs by building and stepping
the real scheduler, each dataset `type` through Axolotl's prompt-strategy loaders.

Used by `validate --deep` and by the differential tests (tests/test_axolotl_referee.py) and
the bench over Axolotl's example configs. Imports Axolotl (seconds): never on a fast path.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from axowrap.preload import preload
from axowrap.telemetry import TELEMETRY_OFF

QUIET_ENV = {
    "HF_HUB_OFFLINE": "1",
    **TELEMETRY_OFF,
    "WANDB_MODE": "disabled",
    "TRANSFORMERS_VERBOSITY": "error",
}
DATASET_MODELS = ("SFTDataset", "DPODataset", "KTODataset", "SyntheticDataset", "StepwiseSupervisedDataset")


@dataclass(frozen=True)
class Finding:
    kind: str  # "refused" | "dropped" | "fails" | "warns" | "environment"
    path: tuple
    message: str


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]


def quiet_env() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_warnings() -> Iterator[_Collect]:
    handler = _Collect()
    logger = logging.getLogger("axolotl")
    logger.addHandler(handler)
    old = logger.propagate
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def register_plugins(cfg: Any) -> None:
    """Register the config's plugins afresh, as `axolotl train` does before validating."""
    from axolotl.integrations.base import PluginManager

    PluginManager._instance = None
    manager = PluginManager.get_instance()
    for name in cfg.get("plugins") or []:
        manager.register(name)
    for plugin in manager.plugins.values():
        plugin.register(cfg)


def validate(config: dict[str, Any], capabilities: dict[str, Any]) -> Any:
    """Axolotl's validate_config on a copy of `config`, plugins registered (raises as Axolotl does)."""
    import torch
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    cfg = DictDefault(copy.deepcopy(config))
    register_plugins(cfg)
    env = {"torch_version": torch.__version__.split("+")[0]}
    return validate_config(cfg, capabilities=capabilities, env_capabilities=env)


def _deprecated_key(message: str, config: dict[str, Any]) -> str | None:
    for key in config:
        if f"`{key}`" in message or message.startswith(f"{key} "):
            return str(key)
    return None


def _remove(config: dict[str, Any], path: tuple) -> bool:
    node: Any = config
    for part in path[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    if isinstance(node, dict) and path and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def _in(node: Any, loc: tuple) -> tuple:
    """The part of a pydantic error location that names keys of `node` (union member tags such
    as 'enum[ChatTemplate]' or 'function-after[...]' are not keys)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            continue
        out.append(part)
    return tuple(out)


def _loc(err: Any, model: str, config: dict[str, Any]) -> tuple:
    loc = tuple(err.get("loc", ()))
    if model in DATASET_MODELS:  # raised while validate_config converted a datasets[] entry
        for i, entry in enumerate(config.get("datasets") or []):
            if isinstance(entry, dict) and loc and loc[0] in entry:
                return ("datasets", i, *_in(entry, loc))
        return ("datasets",)
    return _in(config, loc)


def refusals(
    config: dict[str, Any], capabilities: dict[str, Any], repair: dict[str, tuple] | None = None
) -> tuple[list[Finding], dict[str, Any], Any]:
    """Every refusal, the config left once the refused keys are out, and the last result.
    `repair` maps words of a model-level refusal to the key to take out to look further."""
    from pydantic import ValidationError

    data = copy.deepcopy(config)
    found: list[Finding] = []
    result = None
    for _ in range(30):
        try:
            with captured_warnings() as seen:
                result = validate(data, capabilities)
            found += [Finding("warns", (), m) for m in seen.messages]
            break
        except ValidationError as exc:
            removed = False
            for err in exc.errors():
                path = _loc(err, exc.title, data)
                message = str(err.get("msg", "")).removeprefix("Value error, ")
                found.append(Finding("refused", path, message))
                removed = bool(path) and _remove(data, path) or removed
            if not removed and not _repair(data, found[-1].message, repair):
                break
        except DeprecationWarning as exc:
            key = _deprecated_key(str(exc), data)
            found.append(Finding("refused", (key,) if key else (), str(exc)))
            if not key or not _remove(data, (key,)):
                break
        except ImportError as exc:  # an optional package this config needs is not installed here
            found.append(Finding("environment", (), str(exc)))
            break
        except Exception as exc:
            found.append(Finding("refused", (), f"{type(exc).__name__}: {exc}"))
            if not _repair(data, str(exc), repair):
                break
    return found, data, result


def _repair(data: dict[str, Any], message: str, repair: dict[str, tuple] | None) -> bool:
    for words, path in (repair or {}).items():
        if words in message and _remove(data, path):
            return True
    return False


# --- keys the models drop -------------------------------------------------------------------


def _all_models() -> list[Any]:
    from axolotl.utils.schemas import datasets
    from axolotl.utils.schemas.config import AxolotlConfigWCapabilities

    from axowrap.config.tablegen import models_under

    roots: list[Any] = [AxolotlConfigWCapabilities, datasets.SFTDataset, datasets.DPODataset, datasets.KTODataset]
    return models_under(*roots, getattr(datasets, "SyntheticDataset", datasets.SFTDataset))


@contextlib.contextmanager
def _keeping_extras() -> Iterator[list[Any]]:
    """Every Axolotl config model keeps unknown keys (in __pydantic_extra__) while inside; the
    instance validate_config built is captured so its extras can be read."""
    import axolotl.utils.config as ucfg
    from axolotl.utils.dict import DictDefault

    models = _all_models()
    before = {m: m.model_config.get("extra") for m in models}
    captured: list[Any] = []
    real = ucfg._model_with_inherited_default_fallback
    real_getattr = DictDefault.__getattr__

    def capture(model_cls: Any, data: Any) -> Any:
        instance = real(model_cls, data)
        captured.append(instance)
        return instance

    def getattr_(self: Any, name: str) -> Any:
        # a kept extra may be a DictDefault, which answers None for any attribute: pydantic
        # would take `__pydantic_serializer__` = None for a model's
        if name.startswith("__"):
            raise AttributeError(name)
        return real_getattr(self, name)

    try:
        DictDefault.__getattr__ = getattr_
        for m in models:
            m.model_config["extra"] = "allow"
        for m in reversed(models):
            m.model_rebuild(force=True)
        ucfg._model_with_inherited_default_fallback = capture
        yield captured
    finally:
        DictDefault.__getattr__ = real_getattr
        ucfg._model_with_inherited_default_fallback = real
        for m, extra in before.items():
            if extra is None:
                m.model_config.pop("extra", None)
            else:
                m.model_config["extra"] = extra
        for m in reversed(models):
            m.model_rebuild(force=True)


def _extras(instance: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    from pydantic import BaseModel

    if isinstance(instance, BaseModel):
        for key in instance.__pydantic_extra__ or {}:
            yield path, key
        for name in type(instance).model_fields:
            yield from _extras(getattr(instance, name, None), (*path, name))
    elif isinstance(instance, (list, tuple)):
        for i, item in enumerate(instance):
            yield from _extras(item, (*path, i))
    elif isinstance(instance, dict):
        for k, v in instance.items():
            if isinstance(v, (BaseModel, list, dict)):
                yield from _extras(v, (*path, k))


def _user_node(config: dict[str, Any], path: tuple, aliases: dict[str, str]) -> Any:
    node: Any = config
    for part in path:
        if isinstance(node, dict):
            node = node.get(part, node.get(aliases.get(str(part), ""), None))
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def dropped(config: dict[str, Any], capabilities: dict[str, Any]) -> list[Finding]:
    """Keys the user wrote that Axolotl's models drop (validator-added keys are not counted)."""
    with _keeping_extras() as captured:
        return _dropped(config, capabilities, captured)


def _dropped(config: dict[str, Any], capabilities: dict[str, Any], captured: list[Any]) -> list[Finding]:
    from axolotl.utils.schemas.config import AxolotlInputConfig

    aliases = {name: f.alias for name, f in AxolotlInputConfig.model_fields.items() if f.alias}
    captured.clear()
    try:
        validate(config, capabilities)
    except Exception as exc:  # validated once already: a failure here is the referee's own
        return [Finding("referee-error", (), f"keeping extras: {type(exc).__name__}: {exc}")]
    if not captured:
        return []
    unregistered = _unregistered_plugins(config)
    out = []
    for path, key in _extras(captured[-1]):
        node = _user_node(config, path, aliases)
        if not isinstance(node, dict):
            continue
        if key in node:
            written = key
        elif f"fsdp_{key}" in node:  # Axolotl strips the `fsdp_` prefix inside fsdp_config first
            written = f"fsdp_{key}"
        else:
            continue  # a key Axolotl's own validators added
        value = node[written]
        kind = "dropped" if value is not None else "dropped-null"
        if unregistered and not path:  # a listed plugin could not load here: its fields are unknown
            kind, why = "environment", f"dropped here; the plugin(s) {', '.join(unregistered)} could not load"
        else:
            why = "dropped"
        out.append(Finding(kind, (*path, written), why))
    return out


def _unregistered_plugins(config: dict[str, Any]) -> list[str]:
    from axolotl.integrations.base import PluginManager

    loaded = {type(p).__name__ for p in PluginManager.get_instance().plugins.values()}
    listed = [p for p in config.get("plugins") or [] if isinstance(p, str)]
    return [p for p in listed if p.rsplit(".", 1)[-1] not in loaded]


# --- values that fail later -------------------------------------------------------------------


def _training_args(**kwargs: Any) -> None:
    from transformers import TrainingArguments

    with tempfile.TemporaryDirectory() as out:
        TrainingArguments(output_dir=out, report_to=[], **kwargs)


def optimizer_fails(cfg: dict[str, Any]) -> str | None:
    """Run Axolotl's optimizer configuration and TrainingArguments on `cfg`'s optimizer."""
    from axolotl.core.builders.base import TrainerBuilderBase
    from axolotl.utils.dict import DictDefault

    if not cfg.get("optimizer"):
        return None
    args: dict[str, Any] = {"learning_rate": 1e-4, "weight_decay": 0.0}
    trainer: dict[str, Any] = {}
    builder = SimpleNamespace(cfg=DictDefault({"learning_rate": 1e-4, **cfg}), model=None)
    try:
        TrainerBuilderBase._configure_optimizer(builder, args, trainer)
        if "optim" in args:
            _training_args(optim=args["optim"], **({"optim_args": args["optim_args"]} if "optim_args" in args else {}))
    except ImportError as exc:
        return f"environment: {exc}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def scheduler_fails(cfg: dict[str, Any]) -> tuple[str, tuple] | None:
    """Axolotl's scheduler configuration, TrainingArguments, then the real scheduler stepped."""
    import torch
    from axolotl.core.builders.base import TrainerBuilderBase
    from axolotl.utils.dict import DictDefault
    from transformers.optimization import get_scheduler

    args: dict[str, Any] = {}
    TrainerBuilderBase._configure_scheduler(SimpleNamespace(cfg=DictDefault(cfg)), args)
    try:
        _training_args(lr_scheduler_type=args["lr_scheduler_type"])
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", ("lr_scheduler",)
    if "alternate_lr_scheduler_type" in args or not args.get("lr_scheduler_kwargs"):
        return None

    def run(kwargs: dict[str, Any]) -> str | None:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
        try:
            sched = get_scheduler(
                args["lr_scheduler_type"],
                opt,
                num_warmup_steps=2,
                num_training_steps=10,
                scheduler_specific_kwargs=kwargs,
            )
            for _ in range(10):
                opt.step()
                sched.step(*([1.0] if args["lr_scheduler_type"] == "reduce_lr_on_plateau" else []))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    kwargs = dict(args["lr_scheduler_kwargs"])
    error = run(kwargs)
    if error is None:
        return None
    for key, value in kwargs.items():  # which key: the one whose number-as-text breaks it
        try:
            fixed = {**kwargs, key: float(value)} if isinstance(value, str) else None
        except ValueError:
            fixed = None
        if fixed is not None and run(fixed) is None:
            return error, ("lr_scheduler_kwargs", key)
    return error, ("lr_scheduler_kwargs",)


def _axolotl_module(name: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def dataset_type_fails(cfg: dict[str, Any], index: int, tokenizer: Any) -> tuple[str, str] | None:
    """Does Axolotl's own loader resolve datasets[index].type? (kind, message): `fails` when it
    does not; `environment` when the answer depends on what is not here (a user's module, the
    real model's tokenizer, the real rows): a strategy that resolves and then fails on the tiny
    tokenizer or the sample row has resolved."""
    import importlib

    from axolotl.utils.dict import DictDefault

    entry = cfg["datasets"][index]
    kind = entry.get("type")
    if not isinstance(kind, str):
        return None
    dcfg = DictDefault(copy.deepcopy(cfg))
    ds = DictDefault(copy.deepcopy(entry))
    if cfg.get("rl"):
        from axolotl.utils.schemas.enums import RLType

        rl = RLType(cfg["rl"])
        loader = {RLType.ORPO: "orpo", RLType.KTO: "kto", RLType.EBFT: "ebft"}.get(rl, "dpo")
        load = importlib.import_module(f"axolotl.prompt_strategies.{loader}").load
        with captured_warnings():
            if load(kind, dcfg, dataset_idx=index):
                return None
        module = kind.rsplit(".", 1)[0] if "." in kind else kind
        if not _axolotl_module(f"axolotl.prompt_strategies.{loader}.{module}") and "." in kind:
            return "environment", f"{kind!r}: not one of Axolotl's modules (a user's module, not here)"
        return "fails", f"Failed to load dataset transform function for type {kind!r}"
    from axolotl import prompt_strategies
    from axolotl.prompt_strategies import bradley_terry
    from axolotl.utils.data.wrappers import DATASET_HANDLERS

    base, _, style = kind.partition(":")
    first = kind.split(".")[0].split(":")[0]
    try:
        with captured_warnings():
            if kind.startswith("bradley_terry"):
                sub = kind.split(".", 1)[1] if "." in kind else ""
                if bradley_terry.load(sub, tokenizer, dcfg, ds):
                    return None
                # Axolotl's loader returns None for a missing module and for any error inside it
                # (here: no tokenizer): a module that exists with its function has resolved
                fn = sub.rsplit(".", 1)[-1] if sub.rsplit(".", 1)[-1].startswith("load_") else "load"
                name = sub.rsplit(".", 1)[0] if fn != "load" else sub
                if name and _axolotl_module(f"axolotl.prompt_strategies.bradley_terry.{name}"):
                    found = importlib.import_module(f"axolotl.prompt_strategies.bradley_terry.{name}")
                    if hasattr(found, fn):
                        return "environment", f"{kind!r} resolved; it loads only with the model's tokenizer"
                return "fails", f"unhandled prompt tokenization strategy: {kind}"
            if kind.startswith("stepwise_supervised"):
                return None
            if prompt_strategies.load(kind, tokenizer, dcfg, ds) is not None:
                return None
    except AttributeError as exc:
        if str(exc).startswith("module ") and "has no attribute" in str(exc):  # no such function there
            return "fails", f"AttributeError: {exc}"
        return "environment", f"resolved, then on this tokenizer: {type(exc).__name__}: {exc}"
    except Exception as exc:
        return "environment", f"resolved, then on this tokenizer: {type(exc).__name__}: {exc}"
    if base not in DATASET_HANDLERS:
        if "." in kind and not _axolotl_module(f"axolotl.prompt_strategies.{first}"):
            return "environment", f"{kind!r}: not one of Axolotl's modules (a user's module, not here)"
        return "fails", f"unhandled prompt tokenization strategy: {kind}"
    if not style:
        return None
    from datasets import Dataset

    row = {"instruction": "a", "input": "b", "output": "c"}
    try:
        wrapped, prompter = DATASET_HANDLERS[base](style, tokenizer, dcfg, Dataset.from_list([row]), {})
        list(prompter.build_prompt("a", "b", "c"))
    except (AttributeError, TypeError) as exc:  # the prompter has no format for this style
        return "fails", f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        return "environment", f"on the sample row: {type(exc).__name__}: {exc}"
    return None


def verdict(
    config: dict[str, Any],
    capabilities: dict[str, Any],
    *,
    tokenizer: Any = None,
    repair: dict[str, tuple] | None = None,
) -> Verdict:
    """Everything Axolotl does with `config` that is not "use it as written"."""
    return verdicts([config], capabilities, tokenizer=tokenizer, repairs=[repair])[0]


# The Axolotl modules the checks below use: imported first with the collector paused (preload.py;
# `verdicts` on the tiny run's config in a fresh process: 7.6-7.9 s -> 6.8-7.1 s, 3 runs each).
STACK = ("axolotl.utils.schemas.config", "axolotl.utils.config", "axolotl.core.builders.base")


def verdicts(
    configs: list[dict[str, Any]],
    capabilities: dict[str, Any],
    *,
    tokenizer: Any = None,
    repairs: list[dict[str, tuple] | None] | None = None,
    dropped_keys: bool = True,
) -> list[Verdict]:
    """`verdict` for many configs (the models are switched to keep extras once for all).
    `dropped_keys=False` skips that pass (it rebuilds Axolotl's models: about a second)."""
    quiet_env()
    preload(STACK)
    out = []
    lefts = []
    for config, repair in zip(configs, repairs or [None] * len(configs), strict=True):
        found, left, _ = refusals(config, capabilities, repair)
        out.append(Verdict(found))
        lefts.append(left)
    if dropped_keys:
        with _keeping_extras() as captured:
            for result, left in zip(out, lefts, strict=True):
                if not result.of("environment"):
                    result.findings += _dropped(left, capabilities, captured)
    for result, left in zip(out, lefts, strict=True):
        error = optimizer_fails(left)
        if error:
            kind = "environment" if error.startswith("environment: ") else "fails"
            result.findings.append(Finding(kind, ("optimizer",), error))
        failed = scheduler_fails(left)
        if failed:
            result.findings.append(Finding("fails", failed[1], failed[0]))
        for i, entry in enumerate(left.get("datasets") or []):
            if isinstance(entry, dict):
                failed_type = dataset_type_fails(left, i, tokenizer)
                if failed_type:
                    result.findings.append(Finding(failed_type[0], ("datasets", i, "type"), failed_type[1]))
                failed_template = chat_template_fails(entry)
                if failed_template:
                    result.findings.append(Finding("fails", ("datasets", i, "chat_template"), failed_template))
    return out


def chat_template_fails(entry: dict[str, Any]) -> str | None:
    """Axolotl's own lookup of a dataset's `chat_template` name (without a tokenizer: a name
    that needs one has resolved)."""
    from axolotl.utils.chat_templates import get_chat_template

    name = entry.get("chat_template")
    if not isinstance(name, str):
        return None
    try:
        get_chat_template(name, jinja_template=entry.get("chat_template_jinja"), tokenizer=None)
    except ValueError as exc:
        if "not found" in str(exc) or "cannot be None when `chat_template` choice is jinja" in str(exc):
            return str(exc)
    return None


# --- static verdicts against the referee's ------------------------------------------------------

COUNTED = ("refused", "fails", "dropped")


def agrees(static: Any, findings: list[Finding]) -> bool:
    """Does Axolotl's verdict hold the static error `static` (an axowrap Problem)? The same key
    path, a refusal of the list or mapping holding it, or a refusal of the whole config in the
    words the static rule names (`axolotl_says`)."""
    says = static.extra.get("axolotl_says")
    for f in findings:
        if f.kind not in COUNTED:
            continue
        if f.path and static.path[: len(f.path)] == f.path:
            return True
        if not f.path and says and says in f.message:
            return True
    return False


def reported(finding: Finding, errors: list[Any]) -> bool:
    """Is Axolotl's `finding` among the static errors?"""
    return any(
        (finding.path and p.path[: len(finding.path)] == finding.path)
        or (not finding.path and p.extra.get("axolotl_says", "\0") in finding.message)
        for p in errors
    )


def compare(problems: list[Any], findings: list[Finding]) -> tuple[int, list[Any], list[Finding]]:
    """(static errors Axolotl confirms, static errors it does not: false alarms, what Axolotl
    refuses, fails on or drops that no static error says: misses)."""
    errors = [p for p in problems if p.severity == "error"]
    confirmed = [p for p in errors if agrees(p, findings)]
    false_alarms = [p for p in errors if p not in confirmed]
    misses = [f for f in findings if f.kind in COUNTED and not reported(f, errors)]
    return len(confirmed), false_alarms, misses
