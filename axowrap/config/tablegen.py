"""Derive, from the installed Axolotl, the value tables the static checks use.

Written by `python -m axowrap.config.schemagen` to schemas/axolotl-<version>.tables.json beside
the schema; nothing here is typed by hand. Enum members are read from their classes; names that
live only inside function bodies (custom schedulers, the optimizer branches, the built-in
adapters, the RL loader dispatch, the mutually exclusive keys) are read from Axolotl's source
with `ast`; deprecations come from running Axolotl's own validators. Candidates found in the
source are kept only when Axolotl confirms them (`_confirmed_conflicts` probes validate_config).
Works with Axolotl 0.19 (Python 3.11) and 0.21 (Python 3.12). Imports Axolotl: generator only.
"""

from __future__ import annotations

import ast
import copy
import enum
import importlib
import inspect
import logging
import os
import pkgutil
import textwrap
import typing
from pathlib import Path
from typing import Any


def _values(cls: type[enum.Enum]) -> list[Any]:
    return [m.value if isinstance(m.value, (str, int, float, bool)) else m.name for m in cls]


def _tree(func: Any) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(func)))


def _compared_with(tree: ast.AST, expr: str) -> list[str]:
    """String constants compared (==, in) with the expression `expr` inside `tree`."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(ast.unparse(s) == expr for s in (node.left, *node.comparators)):
            for side in (node.left, *node.comparators):
                elts = side.elts if isinstance(side, (ast.List, ast.Tuple, ast.Set)) else [side]
                found += [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return list(dict.fromkeys(found))


def _text(node: ast.AST, names: dict[str, Any] | None = None) -> str:
    """A message expression as text: constants verbatim, f-string holes as {expr} (or the value
    of a module-level string constant named there, from `names`)."""

    def hole(expr: ast.AST) -> str:
        value = (names or {}).get(expr.id) if isinstance(expr, ast.Name) else None
        return value if isinstance(value, str) else "{" + ast.unparse(expr) + "}"

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(v.value) if isinstance(v, ast.Constant) else hole(getattr(v, "value", v)) for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, names) + _text(node.right, names)
    return hole(node)


def optimizers() -> dict[str, Any]:
    """transformers' names (TrainingArguments(optim=...)) and Axolotl's own ones with a builder branch."""
    from axolotl.core.builders.base import TrainerBuilderBase
    from axolotl.utils.schemas.enums import CustomSupportedOptimizers
    from transformers.training_args import OptimizerNames

    tree = _tree(TrainerBuilderBase._configure_optimizer)
    inner = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_configure_custom_optimizer"), tree
    )
    handled = set(_compared_with(inner, "self.cfg.optimizer"))
    custom = _values(CustomSupportedOptimizers)
    return {
        "transformers": sorted(_values(OptimizerNames)),
        "axolotl": sorted(o for o in custom if o in handled),
        "unhandled": sorted(o for o in custom if o not in handled),  # "Unhandled optimizer" at training
    }


def lr_schedulers() -> dict[str, Any]:
    from axolotl.core.builders.base import TrainerBuilderBase
    from transformers.trainer_utils import SchedulerType

    return {
        "transformers": sorted(_values(SchedulerType)),
        "axolotl": sorted(_compared_with(_tree(TrainerBuilderBase._configure_scheduler), "self.cfg.lr_scheduler")),
    }


def scheduler_casts() -> dict[str, list[str]]:
    """{scheduler: its keyword arguments transformers passes through float()/int() itself}: a
    number written as text (`num_cycles: 5e-1`, a string to YAML 1.1) works for those only."""
    import transformers.optimization as opt
    from transformers.trainer_utils import SchedulerType

    module = ast.parse(inspect.getsource(opt))
    funcs = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
    out: dict[str, list[str]] = {}
    for kind, func in opt.TYPE_TO_SCHEDULER_FUNCTION.items():
        name = getattr(func, "__name__", "")
        todo, seen, cast = [name], set(), set()
        while todo:
            node = funcs.get(todo.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id in funcs:
                    todo.append(sub.id)
                if (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Name)
                    and sub.func.id in ("float", "int")
                    and sub.args
                    and isinstance(sub.args[0], ast.Name)
                ):
                    cast.add(sub.args[0].id)
        value = kind.value if isinstance(kind, SchedulerType) else str(kind)
        out[value] = sorted(cast)
    return dict(sorted(out.items()))


def plugin_classes() -> list[type]:
    """Every plugin class bundled with the installed Axolotl (those whose optional dependencies
    import here), each once, sorted by path."""
    import axolotl.integrations as integrations
    from axolotl.integrations.base import BasePlugin

    found = []
    for info in pkgutil.walk_packages(integrations.__path__, "axolotl.integrations."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # optional dependencies of some plugins are not installed
            continue
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BasePlugin)
                and obj is not BasePlugin
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__name__}")


def _plugin_name(cls: type) -> str:
    """The shortest path a config names the plugin by (the package, not its `.plugin` module)."""
    package = cls.__module__.rsplit(".plugin", 1)[0].rsplit(".plugins", 1)[0]
    return f"{package}.{cls.__name__}"


def adapters() -> dict[str, Any]:
    from axolotl.integrations.base import BasePlugin
    from axolotl.utils.schemas.peft import LoraConfig

    func = LoraConfig.validate_adapter
    builtin = _compared_with(_tree(getattr(func, "__func__", func)), "adapter")
    plugins: dict[str, str] = {}
    for cls in plugin_classes():
        caps_of = getattr(cls, "get_adapter_capabilities", None)
        if caps_of is None or caps_of is getattr(BasePlugin, "get_adapter_capabilities", None):
            continue
        for cap in cls().get_adapter_capabilities() or []:
            plugins[cap.name] = _plugin_name(cls)
    return {"builtin": sorted(builtin), "plugins": dict(sorted(plugins.items()))}


def plugin_writes() -> dict[str, list[str]]:
    """{plugin: the config keys its register() assigns}: a plugin that rewrites keys before
    validate_config (0.21's diffusion plugin turns `warmup_steps: 0.1` into warmup_ratio) makes
    the static rules over those keys unsure. Read from each bundled plugin's source."""
    import inspect
    import textwrap

    from axolotl.integrations.base import BasePlugin

    out: dict[str, list[str]] = {}
    for cls in plugin_classes():
        register = vars(cls).get("register")
        if register is None or register is vars(BasePlugin).get("register"):
            continue
        func = ast.parse(textwrap.dedent(inspect.getsource(register))).body[0]
        if not isinstance(func, ast.FunctionDef) or len(func.args.args) < 2:
            continue
        cfg = func.args.args[1].arg
        keys = {
            target.slice.value
            for node in ast.walk(func)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Subscript)
            and ast.unparse(target.value) == cfg
            and isinstance(target.slice, ast.Constant)
            and isinstance(target.slice.value, str)
        }
        if keys:
            out[_plugin_name(cls)] = sorted(keys)
    return dict(sorted(out.items()))


def builtin_plugins() -> list[str]:
    """Plugins whose fields count without `plugins:` (0.21: context and expert parallel)."""
    from axolotl.integrations import base

    names = getattr(base, "get_builtin_plugins", lambda: ())()
    return sorted(str(n) for n in names)


def _module_functions(path: Path) -> tuple[list[str], dict[str, str]]:
    """Top-level callables of a strategy file (functions, `x = partial(...)`, `x = Cls()`), and
    the first argument of each function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, first = [], {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
            if node.args.args:
                first[node.name] = node.args.args[0].arg
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names, first


def dataset_types() -> dict[str, Any]:
    """Every dataset `type` Axolotl resolves, per loader (SFT, Bradley-Terry, each RL loader)."""
    import axolotl.prompt_strategies as ps
    from axolotl.prompters import PromptStyle
    from axolotl.utils.data import rl as rl_data
    from axolotl.utils.data import wrappers
    from axolotl.utils.schemas.enums import RLType

    root = Path(ps.__file__).parent
    modules: dict[str, tuple[list[str], dict[str, str], bool]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if (Path(dirpath) / d / "__init__.py").exists())
        parts = Path(dirpath).relative_to(root).parts
        for fn in sorted(f for f in filenames if f.endswith(".py")):
            if fn == "__init__.py" and not parts:
                continue
            name = ".".join(parts if fn == "__init__.py" else (*parts, fn[:-3]))
            funcs, first = _module_functions(Path(dirpath) / fn)
            modules[name] = (funcs, first, fn == "__init__.py")

    def loads(name: str) -> list[str]:
        funcs, first, _ = modules.get(name, ([], {}, False))
        # a `load(strategy, ...)` is a dispatcher (base.py, bradley_terry/__init__.py), not a strategy
        return [f for f in funcs if (f == "load" or f.startswith("load_")) and first.get(f) != "strategy"]

    # Packages whose `load` is functools.partial(base.load, module_base=...) are the RL loaders.
    loader_pkgs = sorted(n for n, (funcs, first, pkg) in modules.items() if pkg and "load" in funcs and "." not in n)
    loader_pkgs = [p for p in loader_pkgs if p != "bradley_terry" and "load" not in modules[p][1]]
    sft = ["messages"]
    for name in sorted(modules):
        if name.split(".")[0] in (*loader_pkgs, "bradley_terry"):
            continue
        sft += [name if fn == "load" else f"{name}.{fn}" for fn in loads(name)]
    bradley_terry = [
        f"{name}" if fn == "load" else f"{name}.{fn}"
        for name in sorted(modules)
        if name.startswith("bradley_terry.") and not modules[name][2]
        for fn in loads(name)
    ]
    rl: dict[str, list[str]] = {}
    rl_modules: dict[str, list[str]] = {}
    for pkg in loader_pkgs:
        types: list[str] = []
        shorts = []
        for name in sorted(modules):
            funcs, first, is_pkg = modules[name]
            if not name.startswith(pkg + ".") or is_pkg:
                continue
            short = name[len(pkg) + 1 :]
            shorts.append(short)
            transforms = [f for f in funcs if not f.startswith("_") and first.get(f) == "cfg"]  # base.load calls f(cfg)
            if "default" in transforms:
                types.append(short)
            types += [f"{short}.{f}" for f in transforms]
        rl[pkg] = sorted(types)
        rl_modules[pkg] = sorted(shorts)
    # Which loader serves which `rl:` value (utils/data/rl.py _load_split): `cfg.rl is RLType.X` branches.
    dispatch: dict[str, str] = {}
    other = "dpo"
    for node in ast.walk(_tree(rl_data._load_split)):
        if isinstance(node, ast.If) and ast.unparse(node.test).startswith("cfg.rl is RLType."):
            member = ast.unparse(node.test).split("RLType.")[1]
            call = next(c for c in ast.walk(node.body[0]) if isinstance(c, ast.Call))
            dispatch[RLType[member].value] = ast.unparse(call.func).removeprefix("load_")
            if node.orelse and not isinstance(node.orelse[0], ast.If):
                call = next(c for c in ast.walk(node.orelse[0]) if isinstance(c, ast.Call))
                other = ast.unparse(call.func).removeprefix("load_")
    rl_dispatch = {value: dispatch.get(value, other) for value in _values(RLType)}
    prefixes = [
        node.args[0].value
        for node in ast.walk(_tree(wrappers.get_dataset_wrapper))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "startswith"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    return {
        "sft": sorted(set(sft)),
        "sft_modules": sorted({n.split(".")[0] for n in modules if n.split(".")[0] not in loader_pkgs}),
        "sft_handlers": sorted(wrappers.DATASET_HANDLERS),
        "sft_prefixes": sorted(set(prefixes)),
        "prompt_styles": sorted(_values(PromptStyle)),
        "bradley_terry": sorted(bradley_terry),
        "rl": rl,
        "rl_modules": rl_modules,
        "rl_dispatch": dict(sorted(rl_dispatch.items())),
        "dataset_models": _dataset_models(),
    }


def _dataset_models() -> dict[str, str]:
    """{`rl: X` or `type: X`: the model validate_config turns a `datasets:` entry into; `*`: any other}."""
    from axolotl.utils.config import validate_config

    out: dict[str, str] = {}
    for node in ast.walk(_tree(validate_config)):
        if not isinstance(node, ast.If):
            continue
        call = next((c for c in ast.walk(node.body[0]) if isinstance(c, ast.Call)), None)
        model = ast.unparse(call.func) if call else ""
        if not model.endswith("Dataset") or model.startswith("isinstance"):
            continue
        test = node.test.values[0] if isinstance(node.test, ast.BoolOp) else node.test
        if not isinstance(test, ast.Compare):  # the last `elif not isinstance(ds_cfg, SFTDataset)`
            out["*"] = model
            continue
        left = ast.unparse(test.left)
        values = _compared_with(test, left)
        if left.startswith("cfg.get('rl')"):
            out.update({f"rl: {v}": model for v in values})
        elif "'type'" in left:
            out.update({f"type: {v}": model for v in values})
    return dict(sorted(out.items()))


def chat_templates() -> dict[str, Any]:
    """The names get_chat_template resolves (a dataset's `chat_template` is a free string)."""
    from axolotl.utils.chat_templates import base

    return {
        "names": sorted(base._CHAT_TEMPLATES),
        "jinja": base._JINJA_TEMPLATE_CHOICE,
        "tokenizer": base._DEFAULT_TEMPLATE_CHOICE,
        "fallback_prefix": base._DEFAULT_FALLBACK_CHATML_TEMPLATE_CHOICE_PREFIX,
    }


def attention() -> dict[str, Any]:
    from axolotl.utils.schemas import enums

    return {
        "implementations": sorted(enums.CANONICAL_ATTN_IMPLS),
        "aliases": dict(sorted(enums.SHORT_FORM_ALIAS_TO_CANONICAL.items())),
        "legacy_flags": dict(sorted(enums.LEGACY_ATTN_FLAG_TO_IMPL.items())),
    }


class _Log:
    """Stands in for a module's LOG to see what a validator warns."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def record(msg: Any, *args: Any, **_: Any) -> None:
            self.lines.append(str(msg) % args if args else str(msg))

        return record


def _sample(annotation: Any, truthy: bool = True) -> Any:
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = kinds[0]
    table = {bool: (True, False), int: (1, 0), float: (0.5, 0.0), str: ("x", "")}
    if kind in table:
        return table[kind][0 if truthy else 1]
    return {"type": "linear", "factor": 2.0} if truthy else {}


def models_under(*roots: Any) -> list[Any]:
    """Every pydantic model class reachable from `roots` through field annotations (each once)."""
    from pydantic import BaseModel

    seen: list[Any] = []
    stack = list(roots)
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for f in cls.model_fields.values():
            todo = [f.annotation]
            while todo:
                t = todo.pop()
                if isinstance(t, type) and issubclass(t, BaseModel):
                    stack.append(t)
                todo += list(typing.get_args(t))
    return seen


def deprecations() -> dict[str, Any]:
    """{key: severity, Axolotl's message, and when it fires}: `error` where Axolotl raises."""
    from axolotl.utils.schemas import deprecated as dep
    from axolotl.utils.schemas.config import AxolotlInputConfig

    out: dict[str, Any] = {}
    log = _Log()
    real = dep.LOG
    dep.LOG = log
    try:
        for name, f in dep.DeprecatedParameters.model_fields.items():
            seen: dict[bool, tuple[str, str] | None] = {}
            for truthy in (True, False):
                log.lines.clear()
                try:
                    dep.DeprecatedParameters(**{name: _sample(f.annotation, truthy)})
                    seen[truthy] = ("warning", log.lines[0]) if log.lines else None
                except DeprecationWarning as exc:
                    seen[truthy] = ("error", str(exc))
            fired = seen[True]
            if fired:
                out[name] = {"severity": fired[0], "message": fired[1], "when": "set" if seen[False] else "truthy"}
    finally:
        dep.LOG = real
    for cls in models_under(AxolotlInputConfig):
        for name, f in cls.model_fields.items():
            note = getattr(f, "deprecated", None)
            key = f.alias or name
            if note and key not in out:
                text = note if isinstance(note, str) else getattr(note, "message", str(note))
                out[key] = {"severity": "warning", "message": text.strip(), "when": "set"}
    # Keys a validator refuses by name (e.g. the removed unsloth_* flags), with its message.
    import axolotl.utils.schemas as schemas_pkg

    for path in sorted(Path(schemas_pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # `if data.get("fsdp"): raise ValueError("The top-level `fsdp` list is no longer supported...")`
            raise_ = node.body[0] if isinstance(node, ast.If) and node.body else None
            test = node.test if isinstance(node, ast.If) else None
            if (
                isinstance(raise_, ast.Raise)
                and isinstance(raise_.exc, ast.Call)
                and raise_.exc.args
                and isinstance(test, ast.Call)
                and ast.unparse(test.func) == "data.get"
                and test.args
                and isinstance(test.args[0], ast.Constant)
                and isinstance(test.args[0].value, str)
            ):
                key = test.args[0].value
                module = importlib.import_module(f"axolotl.utils.schemas.{path.stem}")
                text = _text(raise_.exc.args[0], vars(module))
                if f"`{key}`" in text and ("no longer supported" in text or "removed" in text):
                    out[key] = {"severity": "error", "message": text, "when": "truthy"}
        for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(func, ast.FunctionDef):
                continue
            keys = [
                e.value
                for a in ast.walk(func)
                if isinstance(a, ast.Assign) and isinstance(a.value, ast.List)
                for e in a.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
            calls = [n.exc for n in ast.walk(func) if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)]
            for call in calls:
                text = _text(call.args[0]) if isinstance(call, ast.Call) and call.args else ""
                if keys and "removed" in text.lower():
                    tail = text.split("been removed", 1)[-1].strip(". ")
                    for key in keys:
                        out.setdefault(
                            key, {"severity": "error", "message": f"`{key}` has been removed. {tail}.", "when": "set"}
                        )
    return dict(sorted(out.items()))


def fsdp1_only() -> dict[str, Any]:
    """What a release that removed FSDP1 does with FSDP1's settings, probed through validate_config:
    {"version": Axolotl's refusal of `fsdp_version: 1` (or None), "refused": {fsdp_config key:
    its refusal}, "ignored": {key: the warning it logs while dropping the key}}. The candidate
    keys are the release's own lists (0.21's FSDP1_ONLY_*_KEYS); a release without them: {}."""
    from axolotl.utils.schemas import validation

    refused_names = getattr(validation, "FSDP1_ONLY_REJECTED_KEYS", None)
    ignored_names = getattr(validation, "FSDP1_ONLY_IGNORED_KEYS", None)
    if refused_names is None and ignored_names is None:
        return {}
    base = {**BASE_CONFIG, "fsdp_version": 2}
    out: dict[str, Any] = {"version": _refusal({**base, "fsdp_version": 1, "fsdp_config": {"version": 1}})}
    out["refused"], out["ignored"] = {}, {}
    log = _Log()
    real = validation.LOG
    validation.LOG = log
    try:
        for name in sorted({*(refused_names or {}), *(ignored_names or ())}):
            log.lines.clear()
            said = _refusal({**base, "fsdp_config": {name: True}})
            if said:
                out["refused"][name] = said
            else:
                dropped = [line for line in log.lines if f"fsdp_config.{name} " in line]
                if dropped:
                    out["ignored"][name] = dropped[0]
    finally:
        validation.LOG = real
    return out


def fsdp2_qlora() -> dict[str, Any]:
    """How the release takes 4-bit QLoRA under FSDP2 with cpu_ram_efficient_loading, probed:
    {"refused": its refusal, or None where it loads the weights CPU-staged (0.21), "staged":
    {key: the refusal of that key beside CPU-staged loading}}."""
    base = {
        **BASE_CONFIG,
        "adapter": "qlora",
        "load_in_4bit": True,
        "fsdp_version": 2,
        "fsdp_config": {"cpu_ram_efficient_loading": True},
    }
    refused = _refusal(base)
    staged: dict[str, str] = {}
    if refused is None:
        for key, value in (("lora_modules_to_save", ["lm_head"]), ("peft_use_dora", True)):
            said = _refusal({**base, key: value})
            if said:
                staged[key] = said
    return {"refused": refused, "staged": staged}


def falcon_fsdp() -> list[str]:
    """The keys whose FSDP setting Axolotl refuses for a falcon base model (probed: 0.19 checks
    the top-level `fsdp` list, 0.21 `fsdp_config`)."""
    base = {**BASE_CONFIG, "base_model": "tiiuae/falcon-7b"}
    probes: dict[str, dict[str, Any]] = {
        "fsdp": {"fsdp": ["full_shard"]},
        "fsdp_config": {"fsdp_version": 2, "fsdp_config": {"offload_params": False}},
    }
    return [
        key
        for key, extra in probes.items()
        if "falcon" in (_refusal({**base, **extra}) or "") and not _refusal({**BASE_CONFIG, **extra})
    ]


def expert_parallel() -> dict[str, str | None]:
    """The expert-parallel topology rules the release enforces (probed; 0.21 has them, 0.19 not):
    {"needs_fsdp": refusal of expert_parallel_size 2 without FSDP, "state_dict": of a
    SHARDED_STATE_DICT beside it}."""
    ep = {**BASE_CONFIG, "expert_parallel_size": 2}
    return {
        "needs_fsdp": _refusal(ep),
        "state_dict": _refusal({**ep, "fsdp_version": 2, "fsdp_config": {"state_dict_type": "SHARDED_STATE_DICT"}}),
    }


def removed_types() -> dict[str, str]:
    """{dataset type prefix: Axolotl's message} for types a validator refuses (`sharegpt`)."""
    import axolotl.utils.schemas as schemas_pkg

    out: dict[str, str] = {}
    for path in sorted(Path(schemas_pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.If) and node.body and isinstance(node.body[0], ast.Raise)):
                continue
            exc: Any = node.body[0].exc
            for call in ast.walk(node.test):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "startswith"
                    and "type" in ast.unparse(call.func.value)
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(exc, ast.Call)
                    and exc.args
                ):
                    out[str(call.args[0].value)] = _text(exc.args[0])
    return dict(sorted(out.items()))


def accepted_names() -> dict[str, dict[str, str]]:
    """{model: {name: field}} for the names a model accepts beyond its schema's properties
    (populate_by_name field names, AliasChoices); `$root` is the top-level config."""
    from axolotl.utils.schemas.config import AxolotlInputConfig
    from pydantic import AliasChoices

    out: dict[str, dict[str, str]] = {}
    for cls in models_under(AxolotlInputConfig):
        names: dict[str, str] = {}
        by_name = cls.model_config.get("populate_by_name") or cls.model_config.get("validate_by_name")
        for name, f in cls.model_fields.items():
            shown = f.alias or name
            if isinstance(f.validation_alias, AliasChoices):
                choices = [c for c in f.validation_alias.choices if isinstance(c, str)]
                shown = choices[0] if choices else shown
                names.update({c: name for c in choices[1:]})
            if by_name and shown != name:
                names[name] = shown
        if names:
            out["$root" if cls is AxolotlInputConfig else cls.__name__] = dict(sorted(names.items()))
    return dict(sorted(out.items()))


def plugins() -> dict[str, str]:
    """{plugin: why its fields are not in the schema} for bundled plugins whose module cannot be
    imported here (a missing optional dependency): their keys cannot be checked."""
    import axolotl.integrations as integrations

    out = {}
    root = Path(integrations.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "BasePlugin" for b in node.bases):
                module = ".".join(("axolotl.integrations", *path.relative_to(root).with_suffix("").parts))
                module = module.removesuffix(".__init__")
                try:
                    importlib.import_module(module)
                except Exception as exc:
                    package = module.rsplit(".plugin", 1)[0].rsplit(".plugins", 1)[0]
                    out[f"{package}.{node.name}"] = f"{type(exc).__name__}: {exc}"
    return dict(sorted(out.items()))


def _conflict_candidates() -> list[tuple[Any, Any, str]]:
    """`if data.get(A) and data.get(B): raise ValueError(msg)` in Axolotl's config validators."""
    import axolotl.utils.schemas as schemas_pkg

    found = []
    for path in sorted(Path(schemas_pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.If) and isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And)
            ):
                continue
            gets = [
                v.args[0].value
                for v in node.test.values
                if isinstance(v, ast.Call)
                and ast.unparse(v.func) == "data.get"
                and v.args
                and isinstance(v.args[0], ast.Constant)
            ]
            raise_ = node.body[0] if node.body else None
            if (
                len(gets) == 2
                and len(node.test.values) == 2
                and isinstance(raise_, ast.Raise)
                and isinstance(raise_.exc, ast.Call)
                and raise_.exc.args
            ):
                found.append((gets[0], gets[1], _text(raise_.exc.args[0])))
    return found


def _truthy(schema: dict[str, Any], key: str) -> Any:
    prop = schema["properties"].get(key, {})
    kinds = [s.get("type") for s in prop.get("anyOf", [prop])]
    for kind, value in (("boolean", True), ("integer", 2), ("number", 0.5), ("array", ["x"]), ("object", {"x": 1})):
        if kind in kinds:
            return value
    return None


BASE_CONFIG = {
    "base_model": "org/model",
    "learning_rate": 0.0001,
    "micro_batch_size": 1,
    "num_epochs": 1,
    "datasets": [{"path": "data.jsonl", "type": "alpaca"}],
    "output_dir": "out",
}
CPU = {"bf16": False, "fp8": False, "tf32": False, "n_gpu": 1, "n_node": 1, "compute_capability": None}


def _rejects(cfg: dict[str, Any]) -> str | None:
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    try:
        validate_config(DictDefault(copy.deepcopy(cfg)), capabilities=CPU, env_capabilities={"torch_version": "2.13.0"})
    except Exception as exc:  # what Axolotl says, whatever the class
        return str(exc)
    return None


def _refusal(cfg: dict[str, Any]) -> str | None:
    """The words of validate_config's first refusal of `cfg` (pydantic's own text), or None."""
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault
    from pydantic import ValidationError

    try:
        validate_config(DictDefault(copy.deepcopy(cfg)), capabilities=CPU, env_capabilities={"torch_version": "2.13.0"})
    except ValidationError as exc:
        return str(exc.errors()[0].get("msg", "")).removeprefix("Value error, ")
    except Exception as exc:
        return str(exc)
    return None


def conflicts(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairs of keys Axolotl refuses together though each is fine alone (probed, not assumed)."""
    out = []
    for a, b, message in _conflict_candidates():
        va, vb = _truthy(schema, a), _truthy(schema, b)
        if va is None or vb is None:
            continue
        both = _rejects({**BASE_CONFIG, a: va, b: vb})
        if both and not _rejects({**BASE_CONFIG, a: va}) and not _rejects({**BASE_CONFIG, b: vb}):
            out.append({"keys": sorted([a, b]), "message": message})
    return sorted(out, key=lambda c: c["keys"])


def build(schema: dict[str, Any]) -> dict[str, Any]:
    """The tables document for the installed Axolotl (deterministic)."""
    import importlib.metadata as md

    logging.getLogger("axolotl").setLevel(logging.CRITICAL)
    from axolotl.utils.schemas.enums import RLType

    return {
        "axolotl": md.version("axolotl"),
        "transformers": md.version("transformers"),
        "optimizers": optimizers(),
        "lr_schedulers": {**lr_schedulers(), "casts": scheduler_casts()},
        "adapters": adapters(),
        "rl": _values(RLType),
        "dataset_types": dataset_types(),
        "attention": attention(),
        "chat_templates": chat_templates(),
        "deprecated": deprecations(),
        "fsdp1_only": fsdp1_only(),
        "fsdp2_qlora": fsdp2_qlora(),
        "falcon_fsdp": falcon_fsdp(),
        "expert_parallel": expert_parallel(),
        "removed_types": removed_types(),
        "accepted_names": accepted_names(),
        "unreadable_plugins": plugins(),
        "builtin_plugins": builtin_plugins(),
        "plugin_writes": plugin_writes(),
        "conflicts": conflicts(schema),
    }
