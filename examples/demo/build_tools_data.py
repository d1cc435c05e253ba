"""Rebuild the tool-calling demo's data from its public source (maintainers only; nothing runs this at demo/test time).

    python examples/demo/build_tools_data.py glaive_toolcall_en_demo.json

Source: LLaMA-Factory's `data/glaive_toolcall_en_demo.json` (300 ShareGPT rows sampled from
glaive-function-calling-v2, Apache-2.0): `conversations` (from human | gpt | function_call |
observation) and `tools` (a JSON string listing the functions the assistant may call).

Each row with a function call becomes one row of `tools_train.jsonl` or `tools_heldout.jsonl`:
a system turn listing the tools (TOOLS_PROMPT), then the conversation up to and including its
first `function_call` turn (the JSON object `{"name", "arguments"}` the model must produce).
A conversation that repeats one before it (same turns up to the call) is dropped, so no
held-out row is also a training row. HELD_OUT of them, drawn with a seeded shuffle, are held
out; the rest are training rows. Rows without a function call are not used: the demo scores
calling the right function with the right arguments.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

HELD_OUT = 40
SEED = 10
HERE = Path(__file__).resolve().parent
TOOLS_PROMPT = (
    "You can call these functions (JSON schema):\n{tools}\n"
    'To call one, answer with only a JSON object: {{"name": <function name>, "arguments": <arguments object>}}.'
)


def to_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """The row up to its first function call, after a system turn listing its tools; None if it calls none."""
    turns = row["conversations"]
    first = next((i for i, t in enumerate(turns) if t["from"] == "function_call"), None)
    if first is None:
        return None
    tools = json.dumps(json.loads(row["tools"]), ensure_ascii=False)
    system = {"from": "system", "value": TOOLS_PROMPT.format(tools=tools)}
    return {"conversations": [system, *turns[: first + 1]]}


def main(source: Path) -> None:
    rows, seen, repeats = [], set(), 0
    for row in map(to_row, json.loads(source.read_text(encoding="utf-8"))):
        key = json.dumps(row["conversations"][1:], sort_keys=True) if row else None
        if row is None or key in seen:  # the sample repeats some conversations: once each, or they leak
            repeats += row is not None
            continue
        seen.add(key)
        rows.append(row)
    random.Random(SEED).shuffle(rows)
    held, train = rows[:HELD_OUT], rows[HELD_OUT:]
    for name, items in (("tools_train.jsonl", train), ("tools_heldout.jsonl", held)):
        (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    print(
        f"{len(train)} train, {len(held)} held out (of {len(rows)} distinct rows with a function call; {repeats} repeats dropped)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
