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


def _import_axolotl() -> tuple[Any, Any]:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        from axolotl.utils.config import validate_config
        from axolotl.utils.dict import DictDefault
    except ImportError as exc:
        raise AxowrapError(
            f"--deep needs Axolotl installed ({exc.name or exc})",
            hint="pip install 'axowrap[train]' (after `pip install torch==2.13.0`)",
        ) from None
    return validate_config, DictDefault


def deep_check(config: dict[str, Any], target: Target, doc: Document, prefix: tuple = ()) -> list[Problem]:
    """Problems Axolotl's validate_config finds in `config` for `target`, located in `doc`."""
    validate_config, DictDefault = _import_axolotl()
    import torch
    from pydantic import ValidationError

    env = {"torch_version": torch.__version__.split("+")[0]}
    problems: list[Problem] = []
    with _captured_warnings() as seen:
        try:
            validate_config(DictDefault(_plain(config)), capabilities=target.capabilities(), env_capabilities=env)
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
