"""What a row says, whatever its format: its chat turns, its prompt text and its target text
(the part the model learns by default)."""

from __future__ import annotations

from typing import Any

from axowrap.data.formats import Layout

Turn = tuple[str, str]  # (canonical role, content)


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: OpenAI's `text`, LLaMA-Factory v1's `value` (Axolotl reads both)
        return "".join(_part_text(p) for p in value if isinstance(p, dict))
    return ""


def _part_text(part: dict[str, Any]) -> str:
    # Axolotl's order (chat_template._convert_content_parts): text, content, value.
    text = part.get("text") or part.get("content") or part.get("value") or ""
    return text if isinstance(text, str) else ""


def turns_of(layout: Layout, value: Any) -> list[Turn]:
    """Chat turns as (canonical role, content); unknown roles and non-turns are skipped."""
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, str):
        return [("assistant", value)]
    if not isinstance(value, list):
        return []
    role_of = layout.role_of
    role_key, content_key = layout.fields["role"], layout.fields["content"]
    out = []
    for turn in value:
        if isinstance(turn, dict) and isinstance(turn.get(role_key), str) and turn[role_key] in role_of:
            content = _content(turn.get(content_key))
            if not content and turn.get("tool_calls"):
                content = str(turn["tool_calls"])
            out.append((role_of[turn[role_key]], content))
    return out


def conversation(layout: Layout, row: dict[str, Any]) -> list[Turn]:
    """The row as chat turns (alpaca: user + assistant; preference: prompt + chosen)."""
    f = layout.fields
    fmt = layout.format
    if fmt == "alpaca":
        system = row.get(f["system"])
        user = "\n\n".join(s for s in (row.get(f["instruction"]), row.get(f["input"])) if isinstance(s, str) and s)
        turns = [("system", system)] if isinstance(system, str) and system else []
        return [*turns, ("user", user), ("assistant", _content(row.get(f["output"])))]
    if fmt in ("messages", "sharegpt"):
        return turns_of(layout, row.get(f["messages"]))
    if fmt == "preference":
        prompt = row.get(f["prompt"], row.get(f["messages"]))
        head = [("user", prompt)] if isinstance(prompt, str) else turns_of(layout, prompt)
        chosen = turns_of(layout, row.get(f["chosen"]))
        if chosen[: len(head)] == head:  # chosen repeats the prompt (the ORPO layout)
            chosen = chosen[len(head) :]
        return head + chosen
    if fmt == "kto":
        if f["messages"] in row:
            return turns_of(layout, row.get(f["messages"]))
        return [("user", _content(row.get(f["prompt"]))), ("assistant", _content(row.get(f["completion"])))]
    return [("assistant", _content(row.get(f["text"])))]


def prompt_and_target(layout: Layout, row: dict[str, Any]) -> tuple[str, str]:
    """(prompt text, target text): the target is every assistant turn (text: all of it)."""
    if layout.format == "alpaca":  # what `conversation` gives, without building the turns (the data check's hot path)
        f = layout.fields
        system = row.get(f["system"])
        user = "\n\n".join(s for s in (row.get(f["instruction"]), row.get(f["input"])) if isinstance(s, str) and s)
        return (f"{system}\n{user}" if isinstance(system, str) and system else user), _content(row.get(f["output"]))
    turns = conversation(layout, row)
    prompt = "\n".join(c for r, c in turns if r != "assistant")
    target = "\n".join(c for r, c in turns if r == "assistant")
    return prompt, target
