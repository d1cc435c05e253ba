"""What the chosen Axolotl release can express for a spec: mappings its dataset models keep.

Under `rl: dpo` (and ipo, simpo, kto) Axolotl reads each `datasets:` entry as DPODataset (or
KTODataset), models without `message_property_mappings` or `roles`: the strategy then reads
messages by the keys `role` and `content` with the roles user/assistant/system/tool, and a
row written otherwise fails data preparation (KeyError 'role'). Which model has which keys
is the release's generated schema (axowrap.config.keys.dataset_fields).
"""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.config.keys import dataset_fields
from axowrap.problems import Problem
from axowrap.spec.model import Spec


def preference_mapping(spec: Spec) -> Iterator[Problem]:
    rl = spec.preset.rl
    for i, entry in enumerate(spec.data.get("datasets") or []):
        if entry.get("format") != "preference" or "type" in entry:
            continue
        model, kept = dataset_fields(spec.axolotl, rl, {"type": "chat_template.default"})
        if "message_property_mappings" in kept:
            continue
        fields = entry.get("fields") or {}
        renamed = {k: fields[k] for k in ("role", "content") if fields.get(k, k) != k}
        if renamed:
            yield spec.problem(
                ("datasets", i, "fields"),
                f"Axolotl {spec.axolotl} reads `rl: {rl}` datasets as {model}, which has no role/content mapping: "
                f"messages must use the keys `role` and `content` ({', '.join(f'{k}: {v}' for k, v in renamed.items())} "
                "would fail data preparation with KeyError 'role')",
                hint="rename the keys in the data to role/content (user/assistant roles)",
            )
        if entry.get("roles"):
            yield spec.problem(
                ("datasets", i, "roles"),
                f"Axolotl {spec.axolotl} reads `rl: {rl}` datasets as {model}, which ignores `roles`: "
                "messages must use the roles user, assistant, system, tool",
                hint="rename the roles in the data and drop `roles:`",
            )
