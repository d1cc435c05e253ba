"""Emit values as YAML text that can never change the structure around them.

Every value a template interpolates passes through `to_yaml`: strings become double-quoted
scalars in which every character that could end the scalar, start a comment or break the line
is escaped, so `"x\\nlearning_rate: 1"` stays one string. Numbers are written so that YAML 1.1
readers (PyYAML, hence Axolotl) read them back as numbers (`2.0e-05`, never `2e-05`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def _printable(o: int) -> bool:
    # Characters a YAML reader accepts verbatim inside a double-quoted scalar on one line.
    if 0x20 <= o < 0x7F:
        return True
    if 0xA0 <= o <= 0xD7FF:
        return o not in (0x2028, 0x2029)  # YAML 1.1 line separators
    if 0xE000 <= o <= 0xFFFD:
        return o != 0xFEFF  # a byte-order mark is stripped by readers
    return 0x10000 <= o <= 0x10FFFF


_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


# Strings that may stay unquoted: word-like, and read back by YAML 1.1 and 1.2 as themselves.
_PLAIN = re.compile(r"^(?:[A-Za-z_]|\.{1,2}/|/)[A-Za-z0-9_./-]*\Z")
_AMBIGUOUS = re.compile(
    r"^(?:y|Y|n|N|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$"
)


def scalar(text: str) -> str:
    """`text` unquoted when that is unambiguous, else double-quoted."""
    if _PLAIN.match(text) and not _AMBIGUOUS.match(text):
        return text
    return quote(text)


def quote(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly `text`."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif _printable(o):
            out.append(ch)
        elif o <= 0xFF:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def number(value: float) -> str:
    """A float in a form YAML 1.1 reads as a float (it needs a dot in the mantissa)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if 0 < abs(value) < 1e-3 and "e" not in text:
        # learning rates read better as 2.0e-4 than 0.0002; the digits stay repr's shortest
        text = format(Decimal(text), "e")
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def to_yaml(value: Any) -> str:
    """Any JSON-like value as one line of YAML flow syntax."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, str):
        return scalar(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{scalar(str(k))}: {to_yaml(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(to_yaml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def to_yaml_block(value: Any, indent: int) -> str:
    """A mapping as indented block YAML (one key per line), values in flow syntax."""
    pad = " " * indent
    if isinstance(value, Mapping) and value:
        return "".join(f"\n{pad}{scalar(str(k))}: {to_yaml(v)}" for k, v in value.items())
    return " " + to_yaml(value)


def to_yaml_literal(text: str, indent: int = 2) -> str:
    """`text` (lines of a script) as a literal block scalar `|N` whose every line is indented by
    `indent`: read back as exactly `text`. Text a block cannot hold as it is (control characters,
    a byte-order mark, not ending in one line break) is written double-quoted instead."""
    lines = text.split("\n")
    plain = all(_printable(ord(ch)) or ch == "\t" for ch in text.replace("\n", ""))
    if not plain or not text.endswith("\n") or text.endswith("\n\n") or not 1 <= indent <= 9:
        return quote(text)
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in lines[:-1])
    return f"|{indent}\n{body}"


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and not any(isinstance(v, (Mapping, list)) for v in value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if (isinstance(v, Mapping) and v) or (isinstance(v, list) and v and not _is_scalar_list(v)):
                out.append(f"{pad}{scalar(str(k))}:")
                out += _lines(v, indent + 2)
            else:
                out.append(f"{pad}{scalar(str(k))}: {to_yaml(v)}")
    else:  # a list holding mappings or lists
        for v in value:
            if (isinstance(v, Mapping) and v) or (isinstance(v, list) and v and not _is_scalar_list(v)):
                inner = _lines(v, indent + 2)
                out.append(f"{pad}- {inner[0][indent + 2 :]}")
                out += inner[1:]
            else:
                out.append(f"{pad}- {to_yaml(v)}")
    return out


def to_yaml_document(value: Mapping[str, Any]) -> str:
    """A mapping as block YAML for people to read (nested mappings indented, lists of scalars
    in flow style), every scalar on its own line through `to_yaml`: no value spans lines."""
    return "\n".join(_lines(value, 0)) + "\n" if value else "{}\n"
