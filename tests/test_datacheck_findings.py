"""`data check` finds the same things however fast it gets (issue 23): its findings on a bench
data set (Alpaca rows with exact, reordered and near duplicates, short targets, held-out leaks,
non-ASCII text) are compared with

- tests/golden/datacheck-findings.json: every finding (uncapped: severity, category, file,
  line, message) and the summary counts, recorded with the data checks as they were before
  the `data` branch's rewrite and any speed work (commit f05f7a1); `pytest --update-golden`
  rewrites it, and a change there must be explained; and
- a plain reference written for clarity, not speed: `json.dumps` with sorted keys and sha256
  for exact duplicates, str methods for the normalization, every finding uncapped.
"""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from axowrap.data import check as data_check
from axowrap.data.formats import layout_for
from axowrap.data.split import in_holdout
from axowrap.data.texts import prompt_and_target

SAMPLE = Path(__file__).parent / "data" / "alpaca_sample.jsonl"
GOLDEN = Path(__file__).parent / "golden" / "datacheck-findings.json"
ROWS = 3000


def bench_rows(path: Path, n: int = ROWS) -> Path:
    """`n` rows from the Alpaca sample, made unique by a row number, with seeded repeats."""
    sample = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    out: list[dict[str, Any]] = []
    for i in range(n):
        row = dict(sample[i % len(sample)])
        row["instruction"] = f"{row['instruction']} (#{i})"
        if i % 97 == 50:  # the same row again
            row = dict(out[i - 50])
        elif i % 89 == 40:  # the same row, keys in another order
            row = dict(reversed(list(out[i - 40].items())))
        elif i % 83 == 30:  # the same text but for case, spaces and punctuation
            prev = out[i - 30]
            row = {k: (v.upper().replace(" ", "  ") + "!!" if isinstance(v, str) and v else v) for k, v in prev.items()}
        elif i % 211 == 7:
            row["output"] = "ok"
        elif i % 101 == 11:
            row["instruction"] = f"Überprüfe «{i}»: naïve café — 東京"
        out.append(row)
    with path.open("w", encoding="utf-8") as fh:
        for row in out:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def bench_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bench_rows(tmp_path / "rows.jsonl")
    (tmp_path / "spec.yaml").write_text(
        "task: instruct\nbase_model: acme/m\ndatasets: [{path: rows.jsonl}]\n"
        "eval: {holdout: 0.1}\ntraining: {seed: 3}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def reports() -> dict[str, Any]:
    """What `data check --json` finds: the summary and every finding (the cap lifted)."""
    out = {}
    for name, argv in {
        "spec, held-out split": ["spec.yaml"],
        "file": ["rows.jsonl", "--format", "alpaca"],
    }.items():
        res = run_cli("data", "check", *argv, "--no-tokens", "--json")
        assert res.code in (0, 1), res.err
        report = json.loads(res.out)
        out[name] = {
            "summary": report["summary"],
            "findings": sorted(
                [f["severity"], f["category"], f["file"], f.get("line", f.get("row")), f["message"]]
                for f in report["findings"]
            ),
        }
    return out


def test_findings_are_the_recorded_ones(bench_data: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_check, "SHOWN_PER_CATEGORY", 10**9)
    found = reports()
    if update_golden:
        GOLDEN.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert found == json.loads(GOLDEN.read_text(encoding="utf-8"))
    counts = {s["category"]: s["count"] for s in found["spec, held-out split"]["summary"]}
    assert sum(counts.values()) == len(found["spec, held-out split"]["findings"])
    assert set(counts) == {"duplicate (exact)", "duplicate (normalized)", "very short target", "train/held-out overlap"}


def reference(path: Path, holdout: tuple[float, int] | None) -> list[tuple[str, int]]:
    """(category, line) of every content finding, computed the plain way."""
    layout = layout_for("alpaca")
    exact: dict[str, int] = {}
    normal: dict[str, tuple[int, bool]] = {}
    out = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(text)
        prompt, target = prompt_and_target(layout, row)
        if 0 < len(target.strip()) < 3:
            out.append(("very short target", line))
        held = holdout is not None and in_holdout(row, *holdout)
        key = hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        if exact.setdefault(key, line) != line:
            out.append(("duplicate (exact)", line))
            continue
        words = "".join(" " if ch in string.punctuation else ch for ch in (prompt + " " + target).lower()).split()
        if not words:
            continue
        first, first_held = normal.setdefault(" ".join(words), (line, held))
        if first != line:
            out.append(("train/held-out overlap" if first_held != held else "duplicate (normalized)", line))
    return sorted(out)


@pytest.mark.parametrize("holdout", [None, (0.1, 3)])
def test_every_finding_is_what_the_plain_reference_finds(
    bench_data: Path, monkeypatch: pytest.MonkeyPatch, holdout: tuple[float, int] | None
) -> None:
    monkeypatch.setattr(data_check, "SHOWN_PER_CATEGORY", 10**9)
    report = data_check.DataReport()
    path = bench_data / "rows.jsonl"
    data_check.check_dataset(report, path, layout_for("alpaca"), holdout=holdout)
    found = sorted((f.category, f.where) for f in report.findings if f.where is not None)
    expected = reference(path, holdout)
    assert found == expected
    assert len(expected) > 60
