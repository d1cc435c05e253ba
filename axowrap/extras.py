"""Which pip extra of axowrap brings a module (read from axowrap's installed metadata).

Commands that train, evaluate or export import heavy packages only when they run; when one is
missing, the error names the package and the extra that installs it (`pip install
'axowrap[train]'`) instead of a traceback.
"""

from __future__ import annotations

import re

HINT = (
    "install what the command needs: pip install 'axowrap[train]' (training, eval) or 'axowrap[gguf]' (GGUF, serving)"
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def extra_for(module: str) -> str | None:
    """The extra whose requirements include the distribution of top-level `module`, if any."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        requires = metadata("axowrap").get_all("Requires-Dist") or []
    except PackageNotFoundError:
        return None
    top = _norm(module.split(".")[0])
    for req in requires:
        name = re.match(r"[A-Za-z0-9._-]+", req)
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if name and extra and extra.group(1) != "test":
            dist = _norm(name.group())
            if dist == top or dist.startswith(top + "_"):  # llama_cpp <- llama-cpp-python
                return extra.group(1)
    return None


def missing_message(module: str) -> tuple[str, str]:
    """(message, hint) for a module that is not installed."""
    extra = extra_for(module)
    top = module.split(".")[0]
    if extra:
        return f"this needs the Python package {top!r}, which is not installed", f"pip install 'axowrap[{extra}]'"
    return f"this needs the Python package {top!r}, which is not installed", HINT
