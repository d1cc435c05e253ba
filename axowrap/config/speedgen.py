"""Generate schemas/axolotl-<version>.speed.json: which model types each speed integration
supports, read from the installed packages (never typed by hand).

    python -m axowrap.config.speedgen            # (re)write the file
    python -m axowrap.config.speedgen --check    # exit 1 if the committed file is stale

- liger (RoPE/RMSNorm/GLU kernels and the fused linear cross-entropy): the keys of Liger's
  `MODEL_TYPE_TO_APPLY_LIGER_FN`, plus the model types Axolotl's LigerPlugin patches itself
  (the string constants its `pre_model_load` compares `cfg.model_config_type` with).
- unsupported: per feature (liger, lora_kernels, cut_cross_entropy), the model types whose
  Axolotl `model_support` descriptor declares the feature `Unsupported`, with its reason.
Cut cross-entropy's own list lives in the `cut_cross_entropy` package (Axolotl's fork, not
installed here), and Axolotl patches any other Llama-like model generically: only the
`Unsupported` declarations are known. Needs the `train` extra; no fast path imports this.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path
from typing import Any

from axowrap.resources import schema_file

FEATURES = ("liger", "lora_kernels", "cut_cross_entropy")


def _plugin_model_types() -> set[str]:
    """Model types Axolotl's LigerPlugin.pre_model_load names in `cfg.model_config_type` comparisons."""
    from axolotl.integrations.liger.plugin import LigerPlugin

    tree = ast.parse(textwrap.dedent(inspect.getsource(LigerPlugin.pre_model_load)))
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Attribute)
            and node.left.attr == "model_config_type"
        ):
            for comparator in node.comparators:
                found.update(
                    c.value for c in ast.walk(comparator) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
    return found


def _unsupported() -> dict[str, dict[str, str]]:
    from axolotl.model_support import Unsupported, resolve_model_support
    from axolotl.model_support.registry import _REGISTRY, _ensure_builtins

    _ensure_builtins()
    out: dict[str, dict[str, str]] = {f: {} for f in FEATURES}
    for model_type, support in sorted(_REGISTRY.items()):
        caps = resolve_model_support(support).capabilities
        for feature in FEATURES:
            cap = caps.get(feature)
            if isinstance(cap, Unsupported):
                out[feature][model_type] = cap.reason or "declared unsupported"
    return out


def build() -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN

    liger = sorted(set(MODEL_TYPE_TO_APPLY_LIGER_FN) | _plugin_model_types())
    return {
        "generated_by": "python -m axowrap.config.speedgen",
        "versions": {"axolotl": version("axolotl"), "liger-kernel": version("liger-kernel")},
        "sources": {
            "liger": f"Liger {version('liger-kernel')} (MODEL_TYPE_TO_APPLY_LIGER_FN) with Axolotl's LigerPlugin",
        },
        "supported": {"liger": liger},
        "unsupported": _unsupported(),
    }


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axowrap.config.speedgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    target = args.output or schema_file(f"axolotl-{version('axolotl')}.speed.json")
    text = dump(build())
    if args.check:
        current = Path(target).read_text(encoding="utf-8") if Path(target).exists() else ""
        if current != text:
            print(f"{target} is stale: run `python -m axowrap.config.speedgen`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    Path(target).write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
