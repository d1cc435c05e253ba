"""`validate`: the spec's target exists (built-in, or the team's own under `targets:`), and the
team's targets are well formed: known fields of the right types, `vram_gb` for a new one, and
defaults (`speed:`, `attention:`) its GPU can run."""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.errors import AxowrapError
from axowrap.problems import Problem, did_you_mean
from axowrap.spec.model import Spec
from axowrap.targets import capability_problems, get_target, merged_profiles, profile_problems, profiles


def _team(spec: Spec) -> tuple[dict, list[Problem]]:
    try:
        return spec.team_targets(), []
    except AxowrapError as exc:
        return {}, [spec.problem(("targets",), exc.message.split(": ", 1)[-1], hint=exc.hint)]


def target_is_known(spec: Spec) -> Iterator[Problem]:
    name = str(spec.data["compute"]["target"])
    team, _ = _team(spec)
    try:
        known = merged_profiles(team)
    except AxowrapError as exc:  # the calibration file is unreadable
        yield spec.problem(("compute", "target"), exc.message, hint=exc.hint)
        return
    if name in known and "vram_gb" in known[name]:
        return
    guess = did_you_mean(name, known)
    yield spec.problem(
        ("compute", "target"),
        f"unknown target {name!r}" + (f"; did you mean {guess!r}?" if guess else ""),
        hint=f"built-in: {', '.join(profiles())}; a team defines its own under `targets:` (docs/targets.md)",
    )


def team_targets_are_valid(spec: Spec) -> Iterator[Problem]:
    team, problems = _team(spec)
    yield from problems
    where = ("targets",) if isinstance(spec.data.get("targets"), dict) else None
    for name, entry in team.items():
        base = (*where, name) if where else ("targets",)
        found = profile_problems(str(name), entry, new=name not in profiles())
        for sub, message in found:
            yield spec.problem((*base, *sub) if where else base, f"target {name!r}: {message}")
        if found:
            continue
        try:
            target = get_target(str(name), extra=team)
        except AxowrapError:
            continue
        for key, message in capability_problems(target):
            yield spec.problem((*base, key) if where else base, message)
