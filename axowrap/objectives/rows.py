"""Rows as the objective's trainer reads them, from rows in the spec's own format.

Axolotl 0.19.0 keeps no column or role mapping on the datasets of `rl:` trainers: its
DPODataset keeps path, split, type and the `field_messages/chosen/rejected` names only, its
KTODataset not even those, so `message_property_mappings` and `roles` are dropped and
ShareGPT-style rows fail with KeyError 'role' while the data is mapped. So axowrap converts
the rows itself, with the spec's `fields` and `roles`, into the one shape each trainer reads
(the run directory's data/train-N.jsonl), and renders the dataset entry for that shape:

    dpo, ipo, simpo   {"messages": [turns], "chosen": turn, "rejected": turn}     type: chat_template.default
    orpo              {"chosen": [turns], "rejected": [turns], "system"?: text}    type: chat_template.argilla
    reward-model      {"system": text, "input": text, "chosen": text, "rejected": text}
                                                                                   type: bradley_terry.chat_template
    kto               {"prompt": [turns], "completion": [turn], "label": bool}     no type: TRL applies the template
    grpo              {"prompt": text or [turns], "target": text, "database"?: path}
                                                                                   no type: TRL generates from `prompt`

Turns are {"role": system|user|assistant|tool, "content": text}. A row that cannot take the
shape raises RowError, with what to fix; `validate` runs the same conversion over the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axowrap.data.formats import Layout
from axowrap.objectives import Objective

Turn = dict[str, str]


class RowError(ValueError):
    """A row the objective cannot train on (the message says why and what to change)."""


def _turn(layout: Layout, raw: Any, default_role: str) -> Turn:
    if isinstance(raw, str):
        return {"role": default_role, "content": raw}
    if not isinstance(raw, dict):
        raise RowError(f"a turn must be an object or a string, not {type(raw).__name__}")
    role_key, content_key = layout.fields["role"], layout.fields["content"]
    name = raw.get(role_key, raw.get("role"))
    role = layout.role_of.get(name) if isinstance(name, str) else None
    if role is None:
        raise RowError(f"role {name!r} is not mapped to system/user/assistant/tool; map it under `roles:`")
    content = raw.get(content_key, raw.get("content"))
    if not isinstance(content, str):
        raise RowError(f"turn content must be text, not {type(content).__name__}")
    return {"role": role, "content": content}


def _turns(layout: Layout, raw: Any, default_role: str) -> list[Turn]:
    if isinstance(raw, list):
        return [_turn(layout, t, default_role) for t in raw]
    return [_turn(layout, raw, default_role)]


def _pair(layout: Layout, row: dict[str, Any]) -> tuple[list[Turn], Turn, Turn]:
    """(prompt turns, chosen answer, rejected answer) of a preference row."""
    f = layout.fields
    answers = []
    for side in ("chosen", "rejected"):
        if f[side] not in row:
            raise RowError(f"missing key {f[side]!r} (the {side} answer)")
        turns = _turns(layout, row[f[side]], "assistant")
        if not turns or turns[-1]["role"] != "assistant":
            raise RowError(f"{f[side]!r} must end with an assistant answer")
        answers.append(turns)
    if f["prompt"] in row:
        prompt = _turns(layout, row[f["prompt"]], "user")
    elif f["messages"] in row:
        prompt = _turns(layout, row[f["messages"]], "user")
    else:  # argilla style: each answer is the whole conversation
        prompt = answers[0][:-1]
    if not any(t["role"] == "user" for t in prompt):
        raise RowError("the prompt has no user turn")
    if prompt[-1]["role"] == "assistant":
        raise RowError("the prompt ends with an assistant turn: the answer to prefer must come after a user turn")
    chosen, rejected = answers[0][-1], answers[1][-1]
    if chosen["content"] == rejected["content"]:
        raise RowError("chosen and rejected are the same: nothing to prefer")
    return prompt, chosen, rejected


def _dpo(layout: Layout, row: dict[str, Any]) -> dict[str, Any]:
    prompt, chosen, rejected = _pair(layout, row)
    return {"messages": prompt, "chosen": chosen, "rejected": rejected}


def _orpo(layout: Layout, row: dict[str, Any]) -> dict[str, Any]:
    prompt, chosen, rejected = _pair(layout, row)
    system = [t["content"] for t in prompt if t["role"] == "system"]
    turns = [t for t in prompt if t["role"] != "system"]
    # Axolotl's chat_template.argilla rebuilds the prompt from alternating user/assistant turns.
    expected = ["user", "assistant"] * (len(turns) // 2 + 1)
    if [t["role"] for t in turns] != expected[: len(turns)]:
        raise RowError("ORPO (Axolotl's chat_template.argilla) needs the prompt turns to alternate user, assistant")
    if len(system) > 1 or (system and prompt[0]["role"] != "system"):
        raise RowError("ORPO reads one system turn, first")
    out: dict[str, Any] = {"chosen": [*turns, chosen], "rejected": [*turns, rejected]}
    if system:
        out["system"] = system[0]
    return out


def _reward_model(layout: Layout, row: dict[str, Any]) -> dict[str, Any]:
    prompt, chosen, rejected = _pair(layout, row)
    system = [t["content"] for t in prompt if t["role"] == "system"]
    rest = [t for t in prompt if t["role"] != "system"]
    if len(rest) != 1 or len(system) > 1:
        raise RowError(
            "a reward model (Axolotl's bradley_terry.chat_template) reads one system and one user turn;"
            f" this prompt has {len(rest)} other turn(s)"
        )
    return {
        "system": system[0] if system else "",
        "input": rest[0]["content"],
        "chosen": chosen["content"],
        "rejected": rejected["content"],
    }


def _kto(layout: Layout, row: dict[str, Any]) -> dict[str, Any]:
    f = layout.fields
    label = row.get(f["label"])
    if f["label"] not in row:
        raise RowError(f"missing key {f['label']!r} (true: desirable, false: undesirable)")
    if not isinstance(label, bool):
        raise RowError(f"{f['label']!r} must be true or false, not {label!r}")
    if f["messages"] in row:
        turns = _turns(layout, row[f["messages"]], "user")
        if not turns or turns[-1]["role"] != "assistant":
            raise RowError(f"{f['messages']!r} must end with the assistant answer the label judges")
        prompt, completion = turns[:-1], [turns[-1]]
    elif f["prompt"] in row and f["completion"] in row:
        prompt = _turns(layout, row[f["prompt"]], "user")
        completion = _turns(layout, row[f["completion"]], "assistant")[-1:]
    else:
        raise RowError(f"missing key {f['messages']!r} (or {f['prompt']!r} + {f['completion']!r})")
    if not any(t["role"] == "user" for t in prompt):
        raise RowError("the prompt has no user turn")
    return {"prompt": prompt, "completion": completion, "label": label}


CONVERTERS: dict[str, Callable[[Layout, dict[str, Any]], dict[str, Any]]] = {
    "dpo": _dpo,
    "ipo": _dpo,
    "simpo": _dpo,
    "orpo": _orpo,
    "reward-model": _reward_model,
    "kto": _kto,
}


def converts(objective: Objective) -> bool:
    """Whether the run directory writes this objective's rows in the trainer's shape."""
    return objective.name in CONVERTERS or objective.name == "grpo"


def trainer_row(objective: Objective, layout: Layout, row: Any) -> dict[str, Any]:
    """One row in the shape the objective's trainer reads (not GRPO: see grpo_rows)."""
    if not isinstance(row, dict):
        raise RowError(f"a row must be a JSON object, not {type(row).__name__}")
    return CONVERTERS[objective.name](layout, row)


def grpo_split(layout: Layout, row: Any) -> tuple[Any, str | None]:
    """(prompt, reference answer or None) of a GRPO row: alpaca's instruction/input and output,
    or a conversation's turns up to its last assistant turn and that turn."""
    if not isinstance(row, dict):
        raise RowError(f"a row must be a JSON object, not {type(row).__name__}")
    f = layout.fields
    if layout.format == "alpaca":
        instruction = row.get(f["instruction"])
        if not isinstance(instruction, str) or not instruction.strip():
            raise RowError(f"missing or empty {f['instruction']!r} (the prompt)")
        output = row.get(f["output"])
        return row, output if isinstance(output, str) and output.strip() else None
    turns = _turns(layout, row.get(f["messages"], []), "user")
    answers = [i for i, t in enumerate(turns) if t["role"] == "assistant"]
    if answers and answers[-1] == len(turns) - 1:
        prompt, reference = turns[:-1], turns[-1]["content"]
    else:
        prompt, reference = turns, None
    if not prompt or prompt[-1]["role"] != "user":
        raise RowError("the prompt must end with a user turn: the model answers it")
    return prompt, reference
