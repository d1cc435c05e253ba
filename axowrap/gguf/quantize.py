"""Quantize an f16 GGUF with llama.cpp (`llama_cpp.llama_model_quantize`) in a child process,
so llama.cpp's own log lands in the step log and a crash cannot take the runner down.

    python -m axowrap.gguf.quantize SRC.gguf DST.gguf q4_k_m

llama.cpp falls back to another type for tensors whose rows are not a multiple of 256
(k-quants); the fallbacks it logs are counted and reported.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from axowrap.gguf.convert import partial
from axowrap.gguf_types import QUANTIZE_FTYPES, check_type
from axowrap.run.child import run_logged

FALLBACK = re.compile(r"WARNING: (\d+) of (\d+) tensor\(s\) required fallback quantization")


def quantize_argv(src: Path, dst: Path, qtype: str) -> list[str]:
    return [sys.executable, "-m", "axowrap.gguf.quantize", str(src), str(dst), qtype]


def quantize(src: Path, dst: Path, qtype: str, log: Path) -> int:
    """Write `dst` of type `qtype` from `src`; returns how many tensors llama.cpp had to fall back on."""
    qtype = check_type(qtype)
    tmp = partial(dst)
    tmp.unlink(missing_ok=True)
    start = log.stat().st_size if log.exists() else 0
    run_logged("gguf", quantize_argv(src, tmp, qtype), log)
    os.replace(tmp, dst)
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode("utf-8", errors="replace")
    found = FALLBACK.search(text)
    return int(found.group(1)) if found else 0


def main(argv: list[str]) -> int:
    import llama_cpp

    src, dst, qtype = argv
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTIZE_FTYPES[qtype]
    params.nthread = os.cpu_count() or 1
    code = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if code != 0:
        print(f"llama_model_quantize({src} -> {dst}, {qtype}) returned {code}", file=sys.stderr)
    return 1 if code else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
