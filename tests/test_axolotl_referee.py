"""Axolotl is the referee: axowrap's static verdicts against what the installed Axolotl does.

- Over Axolotl's own example configs (tests/data/axolotl-examples, 250 files): every static
  error must be something Axolotl refuses, fails on later, or drops; everything Axolotl
  refuses, fails on or drops must be a static error. The test lists every disagreement.
- Over the seeded mistakes (tests/seeded_mistakes.py): each is a real mistake per Axolotl,
  and static validation catches them all; with --deep too.
- Each cross-field rule and each generated table entry agrees with Axolotl's validate_config.
Axolotl's import and ~400 validations: about 2-3 minutes here (CI runs it: `axolotl` mark).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from seeded_mistakes import BASE, CASES, Case

from axowrap.problems import Problem
from axowrap.releases import installed, tables
from axowrap.targets import get_target
from axowrap.validate import validate_axolotl, validate_path
from axowrap.yamlio import parse_yaml

pytestmark = pytest.mark.axolotl
CORPUS = Path(__file__).parent / "data" / "axolotl-examples"
TARGET = get_target("h100-80gb")  # the machine the examples are written for, one GPU
COUNTS = ("refused", "fails", "dropped")


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _repair(problems: list[Problem]) -> dict[str, tuple]:
    return {p.extra["axolotl_says"]: p.path for p in problems if p.extra.get("axolotl_says")}


@cache
def corpus_verdicts(tokenizer_dir: str) -> dict[str, tuple[list[Problem], list[Any]]]:
    from transformers import AutoTokenizer

    from axowrap.config.referee import verdicts

    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yml", ".yaml"))
    reports = [validate_path(p) for p in files]
    configs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]
    found = verdicts(
        configs,
        TARGET.capabilities(),
        tokenizer=AutoTokenizer.from_pretrained(tokenizer_dir),
        repairs=[_repair(r.problems) for r in reports],
    )
    return {str(p.relative_to(CORPUS)): (r.problems, v.findings) for p, r, v in zip(files, reports, found, strict=True)}


def test_corpus_is_all_of_axolotls_examples() -> None:
    files = [p for p in CORPUS.rglob("*") if p.suffix in (".yml", ".yaml")]
    assert len(files) == 250
    assert "067b021c8b87a9e5e380b9173c704cf7340e30f5" in (CORPUS / "ORIGIN").read_text()


def test_static_errors_on_the_corpus_are_what_axolotl_does(tiny_model: Path) -> None:
    """0 false alarms, 0 misses: each disagreement is listed (file, path, what each side said)."""
    from axowrap.config.referee import compare

    disagreements = []
    true_positives = 0
    for name, (problems, findings) in corpus_verdicts(str(tiny_model)).items():
        confirmed, false_alarms, misses = compare(problems, findings)
        true_positives += confirmed
        disagreements += [f"false alarm {name}: {p.render()}" for p in false_alarms]
        disagreements += [f"missed {name}: {f.kind} at {f.path}: {f.message}" for f in misses]
    assert disagreements == []
    assert true_positives > 90  # the upstream examples' own mistakes (BENCHMARKS.md gives the count)


def test_no_file_of_the_corpus_is_an_unexpected_error() -> None:
    from helpers import run_cli

    files = sorted(str(p) for p in CORPUS.rglob("*") if p.suffix in (".yml", ".yaml"))
    res = run_cli("validate", *files)
    assert res.code == 1, res.err  # some upstream examples really are wrong; never 3
    assert "Traceback" not in res.out + res.err


def _seeded_referee(case: Case, tokenizer: Any) -> bool:
    """Is `case` a real mistake per Axolotl? (a finding at its path, or a refusal of the whole
    config that goes away without the key at its path; a duplicate: PyYAML kept the later value)"""
    from axowrap.config.referee import refusals, verdict

    if case.kind == "duplicate key":
        first = yaml.safe_load(BASE)[case.path[0]]
        return bool(yaml.safe_load(case.text)[case.path[0]] != first)
    config = yaml.safe_load(case.text)
    caps = TARGET.capabilities()
    findings = verdict(config, caps, tokenizer=tokenizer).findings
    if any(f.kind in COUNTS and f.path == case.path for f in findings):
        return True
    # refused as a whole (or the list holding it): and no longer without the key
    above = [f for f in findings if f.kind == "refused" and f.path == case.path[: len(f.path)]]
    if not above:
        return False
    without = yaml.safe_load(case.text)
    node = without
    for part in case.path[:-1]:
        node = node[part]
    del node[case.path[-1]]
    return not [f for f in refusals(without, caps)[0] if f.kind == "refused"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind}:{'.'.join(map(str, c.path))}")
def test_each_seeded_mistake_is_real_and_caught(case: Case, tokenizer: Any) -> None:
    assert _seeded_referee(case, tokenizer), "Axolotl does not treat this as a mistake: fix the case"
    doc = parse_yaml(case.text, "seeded.yaml", yaml12_floats=False)
    static = validate_axolotl(doc)
    assert [p.render() for p in static.problems if p.severity == "error" and p.path == case.path], [
        p.render() for p in static.problems
    ]


def test_seeded_suite_size() -> None:
    kinds: dict[str, int] = {}
    for case in CASES:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    assert len(kinds) >= 8 and min(kinds.values()) >= 5, kinds


def test_deep_catches_every_seeded_mistake_and_never_ends_in_exit_3(workdir: Path) -> None:
    from helpers import run_cli

    for i, case in enumerate(CASES):
        Path(f"c{i}.yaml").write_text(case.text, encoding="utf-8")
    res = run_cli("validate", "--deep", "--target", "h100-80gb", "--json", *[f"c{i}.yaml" for i in range(len(CASES))])
    assert res.code == 1, res.err
    import json

    files = json.loads(res.out)["files"]
    missed = [
        (case.kind, case.path)
        for case, report in zip(CASES, files, strict=True)
        if not any(p["severity"] == "error" and p["path"] == _shown(case.path) for p in report["problems"])
    ]
    assert missed == []


def _shown(path: tuple) -> str:
    from axowrap.problems import format_path

    return format_path(path)


# --- the generated tables and the written rules, each against Axolotl -------------------------


def test_tables_are_for_the_installed_release() -> None:
    assert tables(installed() or "")["axolotl"] == installed()


@pytest.mark.parametrize("rl", [None, *tables(installed() or "0.19.0")["rl"]])
def test_dataset_model_per_rl_is_the_one_validate_config_uses(rl: str | None) -> None:
    """keys.dataset_fields (from the table) names the model validate_config builds."""
    from axowrap.config.keys import dataset_fields
    from axowrap.config.referee import dropped

    config = yaml.safe_load(BASE)
    if rl:  # with what each rl needs besides, so that validate_config accepts it
        config.update(rl=rl, remove_unused_columns=False, ebft={"mode": "structured"} if rl == "ebft" else None)
    model, kept = dataset_fields(installed() or "", rl, config["datasets"][0])
    config["datasets"][0]["zz_not_a_field"] = 1
    config["datasets"][0]["field_messages"] = "m"  # a DPODataset field, not an SFTDataset one
    found = {f.path[-1] for f in dropped(config, TARGET.capabilities()) if f.path[:2] == ("datasets", 0)}
    assert "zz_not_a_field" in found
    assert ("field_messages" in found) == ("field_messages" not in kept), model
