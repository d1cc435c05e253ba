"""Structural checks of one row against a data format (alpaca, messages, sharegpt,
preference, kto, text), with the column names and role names of the user's data.

A check returns a list of (category, message, severity); the common case, a good row, costs
a few dict lookups, so millions of rows can be checked in seconds. Chat turns are checked for
their order too (a user turn first, no two user turns in a row): a warning, or an error when
the chat template the run will use refuses that order (axowrap.data.roles renders it).
LLaMA-Factory's v1 turns are understood: content parts (`{"type": "text" | "tool_call", "value"}`)
and a per-turn `loss_weight`, which Axolotl does not read (it trains by role).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from axowrap.data.readers import INVALID_JSON, INVALID_UTF8, WRONG_TYPE
from axowrap.problems import did_you_mean

FORMATS = ("alpaca", "messages", "sharegpt", "preference", "kto", "text")

# Error categories, in the order the summary lists them.
MISSING_KEY = "missing key"
UNKNOWN_KEY = "unrecognized key"
UNKNOWN_ROLE = "unrecognized role"
EMPTY = "empty content"
NO_ASSISTANT = "no assistant turn"
ROLE_ORDER = "role order"
TOOL_CALL = "bad tool call"
IDENTICAL = "chosen equals rejected"
LOSS_WEIGHT = "loss_weight not read"
CATEGORIES = (
    INVALID_UTF8,
    INVALID_JSON,
    WRONG_TYPE,
    MISSING_KEY,
    UNKNOWN_KEY,
    UNKNOWN_ROLE,
    EMPTY,
    NO_ASSISTANT,
    ROLE_ORDER,
    TOOL_CALL,
    IDENTICAL,
    LOSS_WEIGHT,
)

Issue = tuple[str, str, str]  # (category, message, severity)

# Axolotl's default role names, plus ShareGPT's tool-call roles (glaive, LLaMA-Factory).
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "system": ("system",),
    "user": ("user", "human"),
    "assistant": ("assistant", "gpt", "function_call"),
    "tool": ("tool", "observation"),
}
TOOL_CALL_ROLES = frozenset({"function_call", "tool_call"})
# Content part types that carry a tool call (LLaMA-Factory v1 writes `tool_call`, later `tool_calls`).
TOOL_CALL_PARTS = frozenset({"tool_call", "tool_calls"})
TURN_KEYS = frozenset(
    {
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "weight",
        "reasoning_content",
        "thinking",
        "training",
        "loss_weight",  # LLaMA-Factory v1
    }
)

DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "alpaca": {"instruction": "instruction", "input": "input", "output": "output", "system": "system"},
    "messages": {"messages": "messages", "role": "role", "content": "content", "tools": "tools"},
    "sharegpt": {"messages": "conversations", "role": "from", "content": "value", "tools": "tools"},
    "preference": {
        "prompt": "prompt",
        "messages": "conversations",
        "chosen": "chosen",
        "rejected": "rejected",
        "role": "role",
        "content": "content",
    },
    "kto": {
        "messages": "messages",
        "prompt": "prompt",
        "completion": "completion",
        "label": "label",
        "role": "role",
        "content": "content",
    },
    "text": {"text": "text"},
}


@dataclass(frozen=True)
class Layout:
    """A format plus the user's column names (`fields`) and role names (`roles`)."""

    format: str
    fields: dict[str, str]
    roles: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ROLES))
    template: Any = None  # an axowrap.data.roles.TemplateJudge: the chat template the run uses, if known

    @cached_property
    def role_of(self) -> dict[str, str]:
        """Data role name -> canonical role."""
        out = {name: name for name in DEFAULT_ROLES}
        for canonical, names in self.roles.items():
            out.update({n: canonical for n in names})
        return out

    @cached_property
    def columns(self) -> frozenset[str]:
        return frozenset(self.fields.values())


def layout_for(
    fmt: str, fields: Mapping[str, str] | None = None, roles: Mapping[str, Any] | None = None, template: Any = None
) -> Layout:
    """The layout of `fmt`, with a spec dataset's `fields` and `roles` laid over the defaults
    (and the chat template the run will use, when known)."""
    merged = {**DEFAULT_FIELDS[fmt], **(fields or {})}
    role_map = {k: tuple(v) for k, v in roles.items()} if roles else dict(DEFAULT_ROLES)
    return Layout(fmt, merged, role_map, template)


def guess_fields(fmt: str, row: Any) -> dict[str, str]:
    """Column names for a file checked without a spec: ShareGPT turn keys if the row uses them."""
    if fmt not in ("preference", "kto", "messages") or not isinstance(row, dict):
        return {}
    for value in row.values():
        turn = value[0] if isinstance(value, list) and value else value
        if isinstance(turn, dict) and "from" in turn:
            return {"role": "from", "content": "value"}
    return {}


def detect_format(row: Any) -> str | None:
    """The format a row looks like by its keys, whatever was declared (None: no idea)."""
    if not isinstance(row, dict):
        return None
    if "chosen" in row and "rejected" in row:
        return "preference"
    if "label" in row and ("messages" in row or "completion" in row) and isinstance(row["label"], bool):
        return "kto"
    turns = row.get("conversations", row.get("messages"))
    if isinstance(turns, list):
        first = turns[0] if turns else {}
        return "sharegpt" if isinstance(first, dict) and "from" in first else "messages"
    if "instruction" in row or "output" in row:
        return "alpaca"
    if "text" in row:
        return "text"
    return None


def check_row(layout: Layout, row: Any) -> list[Issue]:
    """Every structural issue of one row; an empty list for a good row."""
    if not isinstance(row, dict):
        return [(WRONG_TYPE, f"a row must be a JSON object, not {_kind(row)}", "error")]
    return _CHECKS[layout.format](layout, row)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _unknown_keys(row: dict[str, Any], known: frozenset[str], where: str = "") -> list[Issue]:
    out = []
    for key in row.keys() - known:
        guess = did_you_mean(key, known)
        tip = f"; did you mean {guess!r}?" if guess else ""
        out.append((UNKNOWN_KEY, f"{where}key {key!r} is not used by this format{tip}", "warning"))
    return out


def _text_field(row: dict[str, Any], column: str, logical: str, *, required: bool = True) -> list[Issue]:
    if column not in row:
        if not required:
            return []
        return [(MISSING_KEY, f"missing key {column!r} (the {logical})", "error")]
    value = row[column]
    if value is None and not required:
        return []
    if not isinstance(value, str):
        return [(WRONG_TYPE, f"{column!r} must be a string, not {_kind(value)}", "error")]
    if required and not value.strip():
        return [(EMPTY, f"{column!r} (the {logical}) is empty", "error")]
    return []


def _filled(value: Any) -> bool:
    return type(value) is str and bool(value) and not value.isspace()


def _alpaca(layout: Layout, row: dict[str, Any]) -> list[Issue]:
    f = layout.fields
    # fast path, the common case: both texts present, optional ones absent or strings, no extra keys
    if len(row) <= 4 and _filled(row.get(f["instruction"])) and _filled(row.get(f["output"])):
        given, system = row.get(f["input"]), row.get(f["system"])
        if (given is None or type(given) is str) and (system is None or type(system) is str):
            if row.keys() <= layout.columns:
                return []
    out = _text_field(row, f["instruction"], "instruction") + _text_field(row, f["output"], "output")
    out += _text_field(row, f["input"], "input", required=False) + _text_field(
        row, f["system"], "system prompt", required=False
    )
    if len(row) > 4 or (out and any(c == MISSING_KEY for c, _, _ in out)):
        out += _unknown_keys(row, layout.columns)
    return out


def _text(layout: Layout, row: dict[str, Any]) -> list[Issue]:
    return _text_field(row, layout.fields["text"], "text")


def check_turns(
    layout: Layout, turns: Any, column: str, *, need_assistant: bool = True, ordered: bool = True
) -> list[Issue]:
    """Issues of a list of chat turns (role + content), tool calls and observations included;
    `ordered`: a conversation (or its prompt), whose role order is checked."""
    if not isinstance(turns, list):
        return [(WRONG_TYPE, f"{column!r} must be a list of turns, not {_kind(turns)}", "error")]
    if not turns:
        return [(EMPTY, f"{column!r} has no turns", "error")]
    role_key, content_key = layout.fields["role"], layout.fields["content"]
    role_of = layout.role_of
    out: list[Issue] = []
    seen_assistant = False
    last_call = False
    order: list[tuple[str, str]] = []  # (canonical role, name as written) of each turn
    for i, turn in enumerate(turns):
        at = f"{column}[{i}]"
        if not isinstance(turn, dict):
            out.append(
                (
                    WRONG_TYPE,
                    f"{at} must be an object with {role_key!r} and {content_key!r}, not {_kind(turn)}",
                    "error",
                )
            )
            continue
        name = turn.get(role_key)
        if role_key not in turn:
            out.append((MISSING_KEY, f"{at}: missing key {role_key!r} (the role)", "error"))
        elif not isinstance(name, str) or name not in role_of:
            guess = did_you_mean(str(name), role_of)
            tip = f" (did you mean {guess!r}?)" if guess else ""
            out.append(
                (
                    UNKNOWN_ROLE,
                    f"{at}: role {name!r} is not mapped to system/user/assistant/tool{tip}; map it under `roles:`",
                    "error",
                )
            )
        role = role_of.get(name) if isinstance(name, str) else None
        tool_call_role = isinstance(name, str) and name in TOOL_CALL_ROLES  # a role may be any JSON value
        if role is not None:
            order.append((role, str(name)))
        calls = turn.get("tool_calls")
        if calls is not None:
            out += _openai_tool_calls(calls, at)
        part_call = False
        if content_key not in turn:
            if not calls:
                out.append((MISSING_KEY, f"{at}: missing key {content_key!r} (the content)", "error"))
        else:
            content = turn[content_key]
            if isinstance(content, str):
                if not content.strip() and not calls:
                    out.append(
                        (
                            EMPTY,
                            f"{at} ({name}) has empty content",
                            "error" if role in ("assistant", "user") else "warning",
                        )
                    )
                elif tool_call_role:
                    out += _sharegpt_tool_call(content, at)
            elif isinstance(content, list) and all(isinstance(p, dict) for p in content):
                part_call = any(p.get("type") in TOOL_CALL_PARTS for p in content)
            elif not (content is None and calls):
                out.append((WRONG_TYPE, f"{at}: {content_key!r} must be a string, not {_kind(content)}", "error"))
        if "loss_weight" in turn:
            out += _loss_weight(turn["loss_weight"], role, at)
        if role == "tool" and not last_call:
            out.append((TOOL_CALL, f"{at}: a tool result ({name}) with no tool call before it", "warning"))
        last_call = bool(calls) or part_call or tool_call_role or (role == "tool" and last_call)
        seen_assistant = seen_assistant or role == "assistant"
        if layout.format == "messages" and len(turn) > 2:
            out += _unknown_keys(turn, TURN_KEYS | {role_key, content_key}, f"{at}: ")
    if need_assistant and not seen_assistant:
        out.append((NO_ASSISTANT, f"{column!r} has no assistant turn: nothing to learn", "error"))
    if ordered and len(order) == len(turns):  # every role known: the order means something
        out += role_order(layout, order, column)
    return out


def role_order(layout: Layout, order: list[tuple[str, str]], column: str) -> list[Issue]:
    """A conversation that does not start with a user turn (after system turns), or has two user
    turns in a row: a warning, an error when the run's chat template refuses it."""
    roles = [r for r, _ in order]
    start = next((i for i, r in enumerate(roles) if r != "system"), None)
    if start is None:
        return []
    problem = None
    if roles[start] != "user":
        problem = (
            f"{column} starts with {_article(roles[start])} {roles[start]} turn ({order[start][1]!r}) before any user turn",
            "put the user turn first, or drop the turns before it",
        )
    else:
        repeat = next((i for i in range(start + 1, len(roles)) if roles[i] == roles[i - 1] == "user"), None)
        if repeat is not None:
            problem = (
                f"{column}[{repeat - 1}] and [{repeat}] are two user turns in a row",
                "merge them into one turn, or add the assistant answer between them",
            )
    if problem is None:
        return []
    message, fix = problem
    refusal = layout.template.refuses(tuple(roles)) if layout.template is not None else None
    if refusal:
        return [
            (
                ROLE_ORDER,
                f"{message}: the chat template {layout.template.name!r} refuses it ({refusal}); {fix}",
                "error",
            )
        ]
    return [(ROLE_ORDER, f"{message}; {fix}", "warning")]


def _loss_weight(value: Any, role: str | None, at: str) -> list[Issue]:
    """LLaMA-Factory v1's per-turn loss_weight: Axolotl trains by role instead (roles_to_train)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [(WRONG_TYPE, f"{at}.loss_weight must be a number, not {_kind(value)}", "error")]
    trained = role == "assistant"
    if value == (1 if trained else 0):
        return []
    what = "trains" if trained else "does not train"
    return [
        (
            LOSS_WEIGHT,
            f"{at} ({role}) has loss_weight {value:g}, but Axolotl does not read loss_weight: it {what} every {role} turn",
            "warning",
        )
    ]


def _sharegpt_tool_call(content: str, at: str) -> list[Issue]:
    try:
        call = json.loads(content)
    except json.JSONDecodeError as exc:
        return [(INVALID_JSON, f"{at}: a tool call must be JSON ({exc.msg})", "error")]
    if not isinstance(call, dict) or "name" not in call:
        return [(TOOL_CALL, f"{at}: a tool call must be an object with 'name' and 'arguments'", "error")]
    return []


def _openai_tool_calls(calls: Any, at: str) -> list[Issue]:
    if not isinstance(calls, list):
        return [(WRONG_TYPE, f"{at}.tool_calls must be a list, not {_kind(calls)}", "error")]
    out: list[Issue] = []
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            out.append((TOOL_CALL, f"{at}.tool_calls[{j}] needs function.name", "error"))
            continue
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                json.loads(args)
            except json.JSONDecodeError as exc:
                out.append((INVALID_JSON, f"{at}.tool_calls[{j}].function.arguments is not JSON ({exc.msg})", "error"))
    return out


def _tools(row: dict[str, Any], column: str) -> list[Issue]:
    tools = row.get(column)
    if tools is None:
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as exc:
            return [(INVALID_JSON, f"{column!r} is a string but not JSON ({exc.msg})", "error")]
    if not isinstance(tools, list):
        return [(WRONG_TYPE, f"{column!r} must be a list of tool definitions, not {_kind(tools)}", "error")]
    return []


def _chat(layout: Layout, row: dict[str, Any]) -> list[Issue]:
    column = layout.fields["messages"]
    if column not in row:
        return [
            (MISSING_KEY, f"missing key {column!r} (the list of turns)", "error"),
            *_unknown_keys(row, layout.columns),
        ]
    out = check_turns(layout, row[column], column) + _tools(row, layout.fields["tools"])
    if len(row) > 2:
        out += _unknown_keys(row, layout.columns)
    return out


def _answer(layout: Layout, value: Any, column: str) -> list[Issue]:
    """A chosen/rejected answer: a string, one turn, or a list of turns."""
    if isinstance(value, str):
        return [] if value.strip() else [(EMPTY, f"{column!r} is empty", "error")]
    if isinstance(value, dict):
        return check_turns(layout, [value], column, ordered=False)
    if isinstance(value, list):
        return check_turns(layout, value, column, ordered=False)
    return [(WRONG_TYPE, f"{column!r} must be a string, a turn or a list of turns, not {_kind(value)}", "error")]


def _preference(layout: Layout, row: dict[str, Any]) -> list[Issue]:
    f = layout.fields
    out: list[Issue] = []
    if f["prompt"] in row:
        prompt = row[f["prompt"]]
        out += (
            _text_field(row, f["prompt"], "prompt")
            if not isinstance(prompt, list)
            else check_turns(layout, prompt, f["prompt"], need_assistant=False)
        )
    elif f["messages"] in row:
        out += check_turns(layout, row[f["messages"]], f["messages"], need_assistant=False)
    else:
        out.append((MISSING_KEY, f"missing key {f['prompt']!r} or {f['messages']!r} (the prompt)", "error"))
    for side in ("chosen", "rejected"):
        if f[side] not in row:
            out.append((MISSING_KEY, f"missing key {f[side]!r} (the {side} answer)", "error"))
        else:
            out += _answer(layout, row[f[side]], f[side])
    if f["chosen"] in row and row.get(f["chosen"]) == row.get(f["rejected"]):
        out.append((IDENTICAL, "chosen and rejected are the same: nothing to prefer", "error"))
    return out


def _kto(layout: Layout, row: dict[str, Any]) -> list[Issue]:
    f = layout.fields
    out: list[Issue] = []
    if f["messages"] in row:
        out += check_turns(layout, row[f["messages"]], f["messages"])
    else:
        out += _text_field(row, f["prompt"], "prompt") + _text_field(row, f["completion"], "completion")
    if f["label"] not in row:
        out.append((MISSING_KEY, f"missing key {f['label']!r} (true: desirable, false: undesirable)", "error"))
    elif not isinstance(row[f["label"]], bool):
        out.append((WRONG_TYPE, f"{f['label']!r} must be true or false, not {row[f['label']]!r}", "error"))
    return out


_CHECKS = {
    "alpaca": _alpaca,
    "messages": _chat,
    "sharegpt": _chat,
    "preference": _preference,
    "kto": _kto,
    "text": _text,
}


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
