"""`validate --deep`: what the installed Axolotl itself does with the config, for a target machine.

This is the only validation level that imports axolotl (and so torch): seconds, once. It runs
the referee (axowrap.config.referee: validate_config with the target's capabilities, the keys
Axolotl's models drop, the optimizer, scheduler and dataset types through Axolotl's own
loaders) and imports custom dataset loaders (`type: my_module.my_function`). Whatever Axolotl
raises becomes a problem located in the file: never an unexpected error.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.speed import CCE_PLUGIN, SWITCHES
from axowrap.targets import Target
from axowrap.yamlio import Document


def _require(version: str) -> None:
    from axowrap.releases import installed

    have = installed()
    if have is None:
        raise AxowrapError(
            "--deep needs Axolotl installed (it runs Axolotl's own validator)",
            hint="pip install 'axowrap[train]' (after `pip install torch==2.13.0`), or drop --deep",
        )
    if have != version:
        raise AxowrapError(
            f"--deep runs the installed Axolotl {have}, but the check is for Axolotl {version}",
            hint=f"drop --axolotl, or run where Axolotl {version} is installed",
        )


def switches_in(config: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """{speed switch: the config key that turns it on} for every switch the config uses."""
    out: dict[str, tuple[str, ...]] = {}
    if str(config.get("attn_implementation") or "").startswith("flash_attention"):
        out["flash_attention"] = ("attn_implementation",)
    for key in ("lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel"):
        if config.get(key):
            out.setdefault("lora_kernels", (key,))
    for key in ("liger_rope", "liger_rms_norm", "liger_glu_activation", "liger_layer_norm", "liger_cross_entropy"):
        if config.get(key):
            out.setdefault("liger", (key,))
    if config.get("liger_fused_linear_cross_entropy"):
        out["fused_cross_entropy"] = ("liger_fused_linear_cross_entropy",)
    if config.get("cut_cross_entropy") and CCE_PLUGIN in (config.get("plugins") or []):
        out["cut_cross_entropy"] = ("cut_cross_entropy",)
    if config.get("torch_compile"):
        out["compile"] = ("torch_compile",)
    return out


def install_problems(config: dict[str, Any], target: Target, doc: Document, prefix: tuple = ()) -> list[Problem]:
    """An error for each speed switch the config turns on whose package is not in the
    target's install: `axowrap[train]`'s requirements (what `launch` installs there) plus the
    target's own `packages:`."""
    from axowrap.versions import install_closure, normalize

    used = switches_in(config)
    if not used or target.is_cpu:
        return []
    have = install_closure() | {normalize(p) for p in target.packages}
    out = []
    for name, path in used.items():
        switch = SWITCHES[name]
        if not switch.packages or any(normalize(p) in have for p in switch.packages):
            continue
        hint = (
            f"add it to the target's install (`targets: {{{target.name}: {{packages: [{switch.packages[0]}]}}}}` "
            f"in team.yaml) and install it there"
            + (f": {switch.install_hint}" if switch.install_hint else "")
            + f"; or set `speed.{name}: false`"
        )
        out.append(
            doc.problem(
                (*prefix, *path),
                f"{name} needs the package {' or '.join(switch.packages)}, which is not in the install of {target.name} "
                "(axowrap[train] and the target's `packages:`)",
                hint=hint,
                extra={"switch": name},
            )
        )
    return out


def deep_check(
    config: dict[str, Any],
    target: Target,
    doc: Document,
    prefix: tuple = (),
    *,
    version: str,
    static: list[Problem] | None = None,
) -> list[Problem]:
    """Problems the installed Axolotl finds in `config` for `target`, located in `doc`."""
    _require(version)
    from axowrap.config import referee

    who = f"Axolotl ({target.name} x{target.gpus})"
    # a refusal of the whole config is pinned to the key the static rule for it names
    repair = {p.extra["axolotl_says"]: p.path[len(prefix) :] for p in static or [] if p.extra.get("axolotl_says")}
    problems = install_problems(config, target, doc, prefix)
    try:
        verdict = referee.verdict(config, target.capabilities(), repair=repair)
    except Exception as exc:  # Axolotl's own code raised outside what the referee expects
        return [*problems, doc.problem(prefix, f"{who} raised {type(exc).__name__}: {exc}")]
    for f in verdict.findings:
        path = f.path or _pinned(f.message, static or [], prefix)
        if f.kind in ("refused", "fails"):
            problems.append(doc.problem((*prefix, *path), f"{who}: {f.message}"))
        elif f.kind == "dropped":
            problems.append(doc.problem((*prefix, *path), f"{who} drops this key (its models do not define it)"))
        elif f.kind == "environment":
            problems.append(
                doc.problem((*prefix, *path), f"{who}, in this environment: {f.message}", severity="warning")
            )
        elif f.kind == "warns":
            # Axolotl only *warns* about some combinations it knows will crash training
            # ("bf16 requested ... Training will fail"): those are errors here.
            fatal = "will fail" in f.message.lower()
            problems.append(
                doc.problem(
                    prefix, f"{who}{'' if fatal else ' warns'}: {f.message}", severity="error" if fatal else "warning"
                )
            )
        elif f.kind == "referee-error":
            problems.append(doc.problem(prefix, f"{who}: {f.message}", severity="warning"))
    problems += custom_loaders(config, doc, prefix, Path(doc.file).parent, version)
    return problems


def _pinned(message: str, static: list[Problem], prefix: tuple) -> tuple:
    for p in static:
        says = p.extra.get("axolotl_says")
        if says and says in message:
            return p.path[len(prefix) :]
    return ()


def custom_loaders(config: dict[str, Any], doc: Document, prefix: tuple, folder: Path, version: str) -> list[Problem]:
    """A dataset `type: my_module.my_function` names the user's own loader: it must import
    (from the config's folder or the current one, as Axolotl runs) and have that function."""
    from axowrap.releases import tables

    types = tables(version)["dataset_types"]
    ours = set(types["sft_modules"]) | {m for ms in types["rl_modules"].values() for m in ms}
    out = []
    for i, entry in enumerate(config.get("datasets") or []):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or "." not in kind or kind.split(".")[0].split(":")[0] in ours:
            continue
        module, _, func = kind.rpartition(".")
        if not config.get("rl") and not (func == "load" or func.startswith("load_")):
            module, func = kind, "load"  # an SFT `my_pkg.my_module` is a module with a `load`
        where = (*prefix, "datasets", i, "type")
        found = _find(module, [str(folder), "."])
        if found is None:
            out.append(
                doc.problem(
                    where,
                    f"custom loader {kind!r}: module {module!r} cannot be imported (looked in {folder} and the "
                    "current folder): data preparation would fail",
                    hint=f"put {module.replace('.', '/')}.py beside the config, or fix the type",
                )
            )
        elif func not in found:
            out.append(doc.problem(where, f"custom loader {kind!r}: module {module!r} has no {func!r}"))
    return out


def _find(module: str, paths: list[str]) -> dict[str, Any] | None:
    """The module's top-level names (imported from `paths` first), or None if it is not there."""
    added = [p for p in paths if p not in sys.path]
    sys.path[:0] = added
    try:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return None
        mod = importlib.import_module(module)
        return dict(vars(mod))
    except ImportError:
        return None
    finally:
        for p in added:
            sys.path.remove(p)
