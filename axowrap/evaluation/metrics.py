"""Domain metrics, one function per idea, pure Python (lm-eval's process_results calls them).

`score_generation(metric, doc, prediction)` scores one generated answer against the row's
target and returns every per-row value the metric family reports; aggregations are `mean`
except macro-F1, which needs the whole corpus (`macro_f1`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from axowrap.evaluation.sql import (  # noqa: F401  (re-exported: the metrics' one import point)
    execution_match,
    execution_scores,
    extract_sql,
    first_statement,
    normalize_sql,
    sql_exact_match,
    sql_scores,
)

# What each spec `eval.metric` reports (names in results.json), and which way is better.
FAMILIES: dict[str, tuple[str, ...]] = {
    "exact_match": ("exact_match",),
    "sql_exact_match": ("sql_exact_match", "sql_extracted"),  # + exec_match, exec_valid with a database
    "tool_call_match": ("tool_call_match",),
    "accuracy": ("accuracy", "macro_f1"),
    "rouge_l": ("rouge_l",),
    "preference_margin": ("preference_accuracy", "preference_margin"),
    "perplexity": ("word_perplexity",),
}


def reported(ev: dict[str, Any]) -> tuple[str, ...]:
    """The domain metrics an `eval` section's metric reports (execution ones when a database is named)."""
    metric = ev["metric"]
    names = FAMILIES.get(metric, (metric,))
    if metric == "sql_exact_match" and ev.get("database"):
        names = (*names, "exec_match", "exec_valid")
    return names


# Reported beside the scores, but not a score: the share of answers the SQL was cut out of.
INFORMATIONAL = frozenset({"sql_extracted"})

LOWER_IS_BETTER = frozenset({"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"})


def lower_is_better(name: str) -> bool:
    """For a metric name, or a standard task's `task/metric`."""
    return name.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def exact_match(prediction: str, target: str) -> float:
    return float(prediction.strip() == target.strip())


def _json_objects(text: str) -> Iterable[Any]:
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                yield decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue


def parse_tool_call(text: str) -> tuple[str, Any] | None:
    """(name, arguments) of the first JSON object in `text` that names a function."""
    for obj in _json_objects(text):
        if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
            obj = obj["function"]
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args = obj.get("arguments", obj.get("parameters", {}))
            if isinstance(args, str):  # OpenAI style: arguments as a JSON string
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    pass
            return obj["name"], args
    return None


def tool_call_match(prediction: str, target: str) -> float:
    """1.0 when the tool name and the arguments (as JSON values, key order ignored) match."""
    gold = parse_tool_call(target)
    if gold is None:
        return exact_match(prediction, target)
    return float(parse_tool_call(prediction) == gold)


def normalize_label(text: str) -> str:
    return " ".join(text.strip().lower().split()).strip(".")


def accuracy(prediction: str, target: str) -> float:
    return float(normalize_label(prediction) == normalize_label(target))


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the gold labels, from (prediction, gold) pairs."""
    pairs = [(normalize_label(p), normalize_label(g)) for p, g in pairs]
    labels = sorted({g for _, g in pairs})
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(p == label and g == label for p, g in pairs)
        fp = sum(p == label and g != label for p, g in pairs)
        fn = sum(p != label and g == label for p, g in pairs)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def rouge_l(prediction: str, target: str) -> float:
    """ROUGE-L F-measure on lower-cased word tokens (longest common subsequence)."""
    a, b = prediction.lower().split(), target.lower().split()
    if not a or not b:
        return float(a == b)
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def score_generation(
    metric: str, prediction: str, target: str, *, database: str | None = None, question: str = ""
) -> dict[str, Any]:
    """Every per-row value `metric`'s family reports for one generated answer (`question`: the
    row's question, which decides whether SQL result rows must come in order)."""
    if metric == "sql_exact_match":
        return dict(sql_scores(prediction, target, database=database, question=question))
    if metric == "tool_call_match":
        return {"tool_call_match": tool_call_match(prediction, target)}
    if metric == "accuracy":
        return {"accuracy": accuracy(prediction, target), "macro_f1": (prediction, target)}
    if metric == "rouge_l":
        return {"rouge_l": rouge_l(prediction, target)}
    return {"exact_match": exact_match(prediction, target)}


def score_preference(loglikelihoods: Sequence[float]) -> dict[str, float]:
    """From the (chosen, rejected) log-likelihoods: is chosen preferred, and by how much."""
    chosen, rejected = loglikelihoods[0], loglikelihoods[1]
    return {"preference_accuracy": float(chosen > rejected), "preference_margin": chosen - rejected}
