"""Spec rules of the training objectives (axowrap.objectives): what each one needs is checked at
`validate`, never found at step 1 of a GPU job.

- the trainer is switched by the task, not by raw `axolotl:` keys (those leave the rows and keys
  the trainer needs behind);
- every row takes the trainer's shape (complete pairs, a user turn to answer, labels that are
  booleans with both classes present for KTO, GRPO prompts and the reference answers the
  rewards compare with);
- GRPO names its rewards, each one runs on real rows with usable, varied scores, and its group
  size divides the batch;
- SimPO's warmup can be expressed in steps.
"""

from __future__ import annotations

import importlib.util
import math
from collections import Counter
from collections.abc import Iterator

from axowrap.data.formats import check_row, layout_for
from axowrap.data.readers import Unreadable, iter_rows, location_name
from axowrap.errors import AxowrapError
from axowrap.objectives import OBJECTIVES, objective_of
from axowrap.objectives.probe import check_reward, load_reward, on_path, samples
from axowrap.objectives.rewards import BUILTIN
from axowrap.objectives.rows import CONVERTERS, RowError, grpo_split, trainer_row
from axowrap.problems import Problem
from axowrap.spec.model import Spec

SHOWN = 5
MAX_ROWS = 200_000
SWITCHES = ("rl", "reward_model")


def objective_switch(spec: Spec) -> Iterator[Problem]:
    """`axolotl: {rl: ...}` or `{reward_model: true}` that the task does not set."""
    overrides = spec.data.get("axolotl") or {}
    preset = spec.preset
    for key in SWITCHES:
        if key not in overrides:
            continue
        value, own = overrides[key], getattr(preset, key)
        if value == own or (key == "reward_model" and not value and not own):
            continue
        if key == "rl":
            wanted = objective_of(preset, {"rl": value})
        else:
            wanted = OBJECTIVES["reward-model" if value else "sft"]
        shown = str(value).lower() if isinstance(value, bool) else value
        yield spec.problem(
            ("axolotl", key),
            f"`{key}: {shown}` switches Axolotl's trainer to {wanted.name} without the rows and keys it needs"
            f" (task {spec.data['task']!r} trains {objective_of(preset).name})",
            hint=f"use `task: {wanted.name}`" if wanted.name != "sft" else "remove it: the task sets the trainer",
        )
    trl = overrides.get("trl")
    if objective_of(preset).name == "grpo" and isinstance(trl, dict) and not trl.get("reward_funcs"):
        yield spec.problem(
            ("axolotl", "trl"),
            "`axolotl.trl` replaces the rendered `trl:` section, reward functions included, and names none",
            hint="set `rewards:` and `training.generations`/`completion_len` instead, or list `reward_funcs` here",
        )


def objective_rows(spec: Spec) -> Iterator[Problem]:
    """Every row of each local dataset in the objective's trainer shape (KTO: both labels present)."""
    objective = objective_of(spec.preset)
    if objective.name not in CONVERTERS and objective.name != "grpo":
        return
    needs_reference = _needs_reference(spec)
    for i, entry in enumerate(spec.data.get("datasets") or []):
        local = spec.local_path(entry["path"])
        if "type" in entry or local is None or not local.is_file() or entry.get("format") not in objective.formats:
            continue  # a raw `type` reads the rows as they are; missing files are reported elsewhere
        layout = layout_for(entry["format"], entry.get("fields"), entry.get("roles"))
        counts: Counter[str] = Counter()
        labels: Counter[bool] = Counter()
        shown = 0
        try:
            for n, (where, row) in enumerate(iter_rows(local)):
                if n >= MAX_ROWS:
                    break
                if isinstance(row, Unreadable) or any(sev == "error" for _, _, sev in check_row(layout, row)):
                    continue  # the data rule reports unreadable rows and rows its format check rejects
                try:
                    if objective.name == "grpo":
                        _, reference = grpo_split(layout, row)
                        if reference is None and needs_reference:
                            raise RowError(
                                f"no reference answer, and the rewards {', '.join(needs_reference)} compare with one"
                            )
                    else:
                        converted = trainer_row(objective, layout, row)
                        if objective.name == "kto":
                            labels[converted["label"]] += 1
                except RowError as exc:
                    counts[str(exc)] += 1
                    if shown < SHOWN:
                        shown += 1
                        yield Problem(
                            ("datasets", i, "path"),
                            f"{location_name(local)} {where}: {objective.name}: {exc}",
                            file=str(local),
                            line=where,
                            hint="`axowrap data check` checks every row of the format",
                        )
        except AxowrapError as exc:
            yield spec.problem(("datasets", i, "path"), exc.message, hint=exc.hint)
            continue
        hidden = sum(counts.values()) - shown
        if hidden > 0:
            yield spec.problem(
                ("datasets", i, "path"),
                f"{entry['path']}: {sum(counts.values())} row(s) {objective.name} cannot train on; {shown} shown",
            )
        if objective.name == "kto" and labels.total() and len(labels) < 2:
            only = "true (desirable)" if True in labels else "false (undesirable)"
            yield spec.problem(
                ("datasets", i, "path"),
                f"{entry['path']}: every label is {only}: KTO needs desirable and undesirable answers",
                hint="add rows of the other label (KTO weighs the two classes against each other)",
            )


def _needs_reference(spec: Spec) -> list[str]:
    return [name for name in spec.data.get("rewards") or {} if name in BUILTIN and BUILTIN[name].reference]


def grpo_rewards(spec: Spec) -> Iterator[Problem]:
    """GRPO names its rewards; each can be found, its inputs exist, and the built-in ones score
    real rows with usable, varied values (custom ones are run by `validate --deep`)."""
    rewards = spec.data.get("rewards") or {}
    grpo = objective_of(spec.preset).name == "grpo"
    if not grpo:
        if rewards:
            yield spec.problem(("rewards",), "`rewards` only apply to task 'grpo'", severity="warning")
        return
    if not rewards:
        yield spec.problem(
            (),
            "task 'grpo' needs `rewards:`: without reward functions GRPO has nothing to learn from",
            hint="e.g. `rewards: {sql_exact_match: 1.0}`; built-in: " + ", ".join(BUILTIN),
        )
        return
    ev = spec.data.get("eval") or {}
    database = spec.local_path(ev["database"]) if ev.get("database") else None
    runnable = [n for n in rewards if n in BUILTIN and (database is not None or not BUILTIN[n].database)]
    for name in rewards:
        if name in BUILTIN and BUILTIN[name].database and database is None:
            yield spec.problem(
                ("rewards", name),
                f"reward {name!r} runs the generated SQL, but `eval.database` names no SQLite file",
                hint="set `eval.database: PATH.sqlite` (relative to the spec)",
            )
        elif name in BUILTIN and BUILTIN[name].database and database is not None and not database.is_file():
            yield spec.problem(
                ("eval", "database"), f"SQLite file {ev['database']!r} not found (looked for {database})"
            )
            return
        elif name not in BUILTIN:
            top = name.split(".", 1)[0]
            with on_path(spec.base_dir):
                found = importlib.util.find_spec(top) is not None
            if not found:
                yield spec.problem(
                    ("rewards", name),
                    f"reward {name!r}: module {top!r} not found (neither beside the spec nor installed);"
                    f" built-in rewards: {', '.join(BUILTIN)}",
                    hint="a reward is a built-in name or a dotted path module.function",
                )
    yield from _group_size(spec)
    yield from probe_rewards(spec, runnable)


def _group_size(spec: Spec) -> Iterator[Problem]:
    """Axolotl 0.19.0's own check of GRPO's batch shape (utils/schemas/validation.py), at validate."""
    tr = spec.data["training"]
    target = spec.target()
    mb, ga, generations = int(tr["micro_batch_size"]), int(tr["gradient_accumulation_steps"]), int(tr["generations"])
    world = target.gpus * target.nodes
    if (mb * ga) % generations:
        ga_fix = math.lcm(generations, mb) // mb
        yield spec.problem(
            ("training", "generations"),
            f"GRPO samples {generations} completions per prompt, but a GPU's step holds {mb * ga}"
            " (micro_batch_size x gradient_accumulation_steps): Axolotl needs a multiple of the group size",
            hint=f"e.g. `gradient_accumulation_steps: {ga_fix}`",
        )
    elif world > 1 and mb * ga < generations * world:
        yield spec.problem(
            ("training", "generations"),
            f"GRPO on {world} GPUs needs at least generations x GPUs = {generations * world} completions per"
            f" GPU step (micro_batch_size x gradient_accumulation_steps), got {mb * ga}: each GPU takes whole groups",
            hint="raise `gradient_accumulation_steps` or `micro_batch_size`",
        )


def probe_rewards(spec: Spec, names: list[str]) -> Iterator[Problem]:
    """Run the rewards `names` on the first rows of each local dataset (see objectives/probe.py)."""
    ev = spec.data.get("eval") or {}
    db = spec.local_path(ev["database"]) if ev.get("database") else None
    database = str(db.resolve()) if db is not None and db.is_file() else None
    rows = []
    for entry in spec.data.get("datasets") or []:
        local = spec.local_path(entry["path"])
        if local is not None and local.is_file() and "type" not in entry:
            try:
                rows += samples(entry, local, database)
            except AxowrapError:
                continue  # unreadable data is reported by the data rule
    for name in names:
        try:
            fn = load_reward(name, spec.base_dir)
        except ValueError as exc:
            yield spec.problem(("rewards", name), f"reward {name!r}: {exc}")
            continue
        problem = check_reward(name, fn, rows)
        if problem:
            yield spec.problem(("rewards", name), f"reward {name!r} {problem}", hint=_hint(name))


def _hint(name: str) -> str | None:
    if name in BUILTIN and BUILTIN[name].database:
        return "does `eval.database` hold the tables these queries use?"
    return None


def reward_model_eval(spec: Spec) -> Iterator[Problem]:
    """A reward model is a scorer: the eval's lm-eval task would load its adapter into a causal
    language model (its score head dropped) and score something other than what was trained."""
    if objective_of(spec.preset).name != "reward-model":
        return
    ev = spec.data.get("eval") or {}
    for key in ("holdout", "holdout_file", "lm_eval", "judge"):
        if ev.get(key):
            yield spec.problem(
                ("eval", key),
                "a reward model is a scorer, not a language model: the eval (lm-eval on generated or preferred"
                " text) would load it as a causal LM without its score head",
                hint=f"set `eval.{key}: null`",
            )


def simpo_warmup(spec: Spec) -> Iterator[Problem]:
    tr = spec.data.get("training") or {}
    if objective_of(spec.preset).name == "simpo" and float(tr.get("warmup_ratio") or 0) > 0 and "max_steps" not in tr:
        yield spec.problem(
            ("training", "warmup_ratio"),
            "Axolotl 0.19.0 refuses warmup_ratio with the simpo trainer (it takes warmup_steps), and without"
            " `max_steps` the steps cannot be derived",
            hint="set `training.max_steps` (warmup_steps = warmup_ratio x max_steps) or `warmup_ratio: 0`",
        )


def deep_reward_problems(spec: Spec) -> list[Problem]:
    """`validate --deep`: import the spec's own reward functions and run them on real rows."""
    if objective_of(spec.preset).name != "grpo":
        return []
    return list(probe_rewards(spec, [n for n in spec.data.get("rewards") or {} if n not in BUILTIN]))
