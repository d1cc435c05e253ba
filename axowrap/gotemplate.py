"""The subset of Go's text/template that axowrap's Modelfile TEMPLATEs use, with Go's semantics:
`range .Messages`, `if`/`else if`/`else` over `eq .Role "x"` or a field's truth, the fields
.Role, .Content, .System and .Prompt, string literals (`{{ "{{" }}`) and `{{-`/`-}}` trimming.

Ollama renders a Modelfile's TEMPLATE with Go's text/template; Go and Ollama are not on this
machine, so the stop audit and the tests render TEMPLATEs here to compare them with the prompt
format training used. Anything outside the subset raises (never a silent guess).
"""

from __future__ import annotations

import json
import re
from typing import Any

ACTION = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)
FIELDS = (".Role", ".Content", ".System", ".Prompt")


class Unsupported(ValueError):
    """A construct outside the subset."""


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip()
        if out and out[-1][0] == "trim":
            text = text.lstrip()
            out.pop()
        out.append(("text", text))
        out.append(("act", m.group(2)))
        if m.group(3):
            out.append(("trim", ""))
        pos = m.end()
    text = src[pos:]
    if out and out[-1][0] == "trim":
        text = text.lstrip()
        out.pop()
    out.append(("text", text))
    return out


def _parse(tokens: list[tuple[str, str]], i: int = 0) -> tuple[list[Any], int, str]:
    nodes: list[Any] = []
    while i < len(tokens):
        kind, val = tokens[i]
        i += 1
        if kind == "text":
            nodes.append(("text", val))
        elif val == "end" or val == "else" or val.startswith("else if "):
            return nodes, i, val
        elif val == "range .Messages":
            body, i, _ = _parse(tokens, i)
            nodes.append(("range", body))
        elif val.startswith("if "):
            conditions = [val[3:]]
            bodies = []
            while True:
                body, i, stop = _parse(tokens, i)
                bodies.append(body)
                if stop == "end":
                    break
                if not stop:
                    raise Unsupported("an `if` without `end`")
                conditions.append(stop[8:] if stop.startswith("else if ") else "true")
            nodes.append(("if", list(zip(conditions, bodies, strict=True))))
        elif val.startswith('"'):
            nodes.append(("text", json.loads(val)))
        elif val in FIELDS:
            nodes.append(("field", val[1:].lower()))
        else:
            raise Unsupported(f"template action {{{{ {val} }}}}")
    return nodes, i, ""


def _truth(cond: str, scope: dict[str, Any]) -> bool:
    if cond == "true":
        return True
    m = re.fullmatch(r'eq \.Role "(\w+)"', cond)
    if m:
        return bool(scope.get("role") == m.group(1))
    if cond in FIELDS:
        return bool(scope.get(cond[1:].lower()))
    raise Unsupported(f"condition {cond!r}")


def _eval(nodes: list[Any], data: dict[str, Any], scope: dict[str, Any]) -> str:
    out = ""
    for node in nodes:
        if node[0] == "text":
            out += node[1]
        elif node[0] == "range":
            out += "".join(_eval(node[1], data, {**data, **m}) for m in data.get("messages", []))
        elif node[0] == "if":
            out += next((_eval(b, data, scope) for c, b in node[1] if _truth(c, scope)), "")
        else:
            if node[1] not in scope:
                raise Unsupported(f"field .{node[1].title()} outside its scope")
            out += str(scope[node[1]])
    return out


def go_render(
    template: str, messages: list[dict[str, str]] | None = None, *, system: str = "", prompt: str = ""
) -> str:
    """Render `template` as Ollama would for these messages (or this system + prompt)."""
    nodes, _, stop = _parse(_tokens(template))
    if stop:
        raise Unsupported(f"a stray {{{{ {stop} }}}}")
    data = {"messages": messages or [], "system": system, "prompt": prompt}
    return _eval(nodes, data, data)
