"""The GGUF types axowrap makes: the one table of names, how each is made, and its size.

Light on purpose: the spec schema's enum, the CLI choices, the validate-time GGUF rule, the
plan's disk estimate and the gguf step all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from axowrap.errors import AxowrapError

QK_K = 256  # k-quant super-block: a tensor row must be a multiple of this, else llama.cpp falls back


@dataclass(frozen=True)
class GgufType:
    name: str
    bits: float  # approximate bits per weight (llama.cpp's quantize table)
    ftype: int | None  # llama_ftype for `llama_model_quantize`; None: written directly by the converter

    @property
    def k_quant(self) -> bool:
        return "_k" in self.name


GGUF_TYPES = {
    t.name: t
    for t in (
        # Written directly by the converter (`--outtype`).
        GgufType("f16", 16.0, None),
        GgufType("bf16", 16.0, None),
        GgufType("q8_0", 8.5, None),
        # Quantized from the f16 GGUF by llama.cpp.
        GgufType("q6_k", 6.56, 18),
        GgufType("q5_k_m", 5.69, 17),
        GgufType("q5_k_s", 5.54, 16),
        GgufType("q5_0", 5.5, 8),
        GgufType("q4_k_m", 4.89, 15),
        GgufType("q4_k_s", 4.57, 14),
        GgufType("q4_0", 4.5, 2),
        GgufType("q3_k_l", 4.27, 13),
        GgufType("q3_k_m", 3.91, 12),
        GgufType("q3_k_s", 3.5, 11),
        GgufType("q2_k", 3.35, 10),
    )
}
SUPPORTED = tuple(GGUF_TYPES)
CONVERT_TYPES = tuple(t.name for t in GGUF_TYPES.values() if t.ftype is None)
QUANTIZE_FTYPES = {t.name: t.ftype for t in GGUF_TYPES.values() if t.ftype is not None}
K_QUANTS = tuple(t.name for t in GGUF_TYPES.values() if t.k_quant)
BITS = {t.name: t.bits for t in GGUF_TYPES.values()}


def check_type(name: str) -> str:
    """The canonical (lower-case) type name; AxowrapError listing the supported ones if unknown."""
    key = name.lower()
    if key not in GGUF_TYPES:
        raise AxowrapError(f"unknown GGUF type {name!r}", hint=f"supported: {', '.join(SUPPORTED)}")
    return key


def gguf_name(model_name: str, gguf_type: str) -> str:
    return f"{model_name}-{gguf_type}.gguf"
