"""`validate --deep`: Axolotl's own validator, run for a target machine's capabilities.

This is the only validation level that imports axolotl (and so torch): ~10 s once.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.speed import CCE_PLUGIN, SWITCHES
from axowrap.targets import Target
from axowrap.yamlio import Document

QUIET_ENV = {
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "AXOLOTL_DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "TRANSFORMERS_VERBOSITY": "error",
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _captured_warnings() -> Iterator[_Collect]:
    handler = _Collect()
    logger = logging.getLogger("axolotl")
    logger.addHandler(handler)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def _import_axolotl() -> tuple[Any, Any, Any]:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        from axolotl.utils.config import prepare_plugins, validate_config
        from axolotl.utils.dict import DictDefault
    except ImportError as exc:
        raise AxowrapError(
            f"--deep needs Axolotl installed ({exc.name or exc})",
            hint="pip install 'axowrap[train]' (after `pip install torch==2.13.0`)",
        ) from None
    return validate_config, prepare_plugins, DictDefault


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


def deep_check(config: dict[str, Any], target: Target, doc: Document, prefix: tuple = ()) -> list[Problem]:
    """Problems Axolotl's validate_config finds in `config` for `target`, located in `doc`."""
    validate_config, prepare_plugins, DictDefault = _import_axolotl()
    import torch
    from pydantic import ValidationError

    env = {"torch_version": torch.__version__.split("+")[0]}
    problems: list[Problem] = install_problems(config, target, doc, prefix)
    cfg = DictDefault(_plain(config))
    with _captured_warnings() as seen:
        try:
            # What `axolotl train` does first: register the listed plugins (an unknown one fails
            # to import here), so their fields and validators join the schema.
            prepare_plugins(cfg)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            problems.append(
                doc.problem((*prefix, "plugins"), f"Axolotl ({target.name}): cannot register a plugin: {exc}")
            )
            return problems
        try:
            validate_config(cfg, capabilities=target.capabilities(), env_capabilities=env)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
                msg = err.get("msg", "invalid")
                msg = msg.removeprefix("Value error, ")
                problems.append(doc.problem((*prefix, *loc), f"Axolotl ({target.name} x{target.gpus}): {msg}"))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(doc.problem(prefix, f"Axolotl ({target.name} x{target.gpus}): {exc}"))
    for message in seen.messages:
        # Axolotl only *warns* about some combinations it knows will crash training
        # ("bf16 requested ... Training will fail"): those are errors here.
        fatal = "will fail" in message.lower()
        what = f"Axolotl ({target.name} x{target.gpus})" + ("" if fatal else " warns")
        problems.append(doc.problem(prefix, f"{what}: {message}", severity="error" if fatal else "warning"))
    return problems


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
