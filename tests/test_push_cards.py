"""Fast checks of the Hub pieces that need no trained adapter: model cards (front matter
round-trip, relations, injection), the Modelfile rewrite, the export.hub spec rules, and the
client's errors and retries against the local Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import write
from hub_server import Hub

from axowrap.errors import AxowrapError
from axowrap.hub.cards import CardInputs, card_metadata, check_card, render_card
from axowrap.hub.upload import repo_modelfile

BASE = "Qwen/Qwen2.5-0.5B"
REPOS = {"adapter": "acme/sql-lora", "merged": "acme/sql", "gguf": "acme/sql-GGUF"}
CONFIG = {
    "base_model": BASE,
    "adapter": "lora",
    "lora_r": 16,
    "lora_alpha": 32,
    "learning_rate": 0.0002,
    "num_epochs": 1,
    "micro_batch_size": 2,
    "sequence_len": 512,
}
MANIFEST = {
    "base_model": {"id": BASE, "revision": "main"},
    "versions": {"axowrap": "0.1.0", "axolotl": "0.19.0"},
    "datasets": [{"source": "b-mc2/sql-create-context", "path": "/runs/x/data/train-0.jsonl", "sha256": "ab" * 32}],
}
SPEC = {
    "task": "sql",
    "base_model": BASE,
    "method": "lora",
    "datasets": [{"path": "b-mc2/sql-create-context"}, {"path": "data/extra.jsonl"}],
}
METRICS = {"exact_match": {"base": 0.25, "tuned": 0.75}}


def inputs(kind: str, **kw: Any) -> CardInputs:
    base: dict[str, Any] = dict(
        kind=kind,
        repo_id=REPOS[kind],
        repos=REPOS,
        spec=SPEC,
        config=CONFIG,
        manifest=MANIFEST,
        metrics=METRICS,
        files=["sql-q4_k_m.gguf", "Modelfile"] if kind == "gguf" else ["config.json"],
    )
    return CardInputs(**{**base, **kw})


def parsed(inp: CardInputs) -> tuple[dict[str, Any], str]:
    from huggingface_hub import ModelCard

    card = ModelCard(render_card(inp))
    return card.data.to_dict(), card.text


def test_adapter_card_front_matter_round_trips() -> None:
    meta, text = parsed(inputs("adapter"))
    assert meta == card_metadata(inputs("adapter"))
    assert meta["base_model"] == BASE and meta["base_model_relation"] == "adapter"
    assert meta["library_name"] == "peft" and meta["license"] == "other"
    assert meta["datasets"] == ["b-mc2/sql-create-context"]  # the Hub dataset; the local file has no id
    assert meta["tags"] == ["axowrap", "axolotl", "sql", "lora"]
    assert meta["model-index"][0]["results"][0]["metrics"] == [
        {"type": "exact_match", "value": 0.75, "name": "exact_match"}
    ]
    assert "| exact_match | 0.25 | 0.75 | +0.5 |" in text
    assert f"vllm serve {BASE} --enable-lora --lora-modules sql-lora={REPOS['adapter']}" in text
    assert "| `lora_r` | `16` |" in text and "| axolotl | 0.19.0 |" in text


@pytest.mark.parametrize(
    ("kind", "parent", "relation", "library"),
    [
        ("merged", BASE, "finetune", "transformers"),
        ("gguf", REPOS["merged"], "quantized", "gguf"),
    ],
)
def test_relations(kind: str, parent: str, relation: str, library: str) -> None:
    meta, _ = parsed(inputs(kind))
    assert (meta["base_model"], meta["base_model_relation"], meta["library_name"]) == (parent, relation, library)


def test_gguf_card_without_merged_repo_points_at_the_base() -> None:
    meta, text = parsed(inputs("gguf", repos={"gguf": REPOS["gguf"]}))
    assert meta["base_model"] == BASE
    assert f"ollama run hf.co/{REPOS['gguf']}:Q4_K_M" in text
    assert "Other repos from the same run" not in text


def test_no_eval_no_model_index_and_local_base_has_no_base_model(tmp_path: Path) -> None:
    local = {"base_model": str(tmp_path)}
    meta, text = parsed(
        inputs("merged", metrics={}, config={**CONFIG, **local}, manifest={"base_model": {"path": str(tmp_path)}})
    )
    assert "model-index" not in meta and "base_model" not in meta
    assert "No evaluation was run for this model." in text


def test_spec_values_cannot_change_the_front_matter() -> None:
    hostile = {**SPEC, "task": "sql\n---\nlicense: mit", "system_prompt": "---\nlicense: mit\n---"}
    meta, text = parsed(inputs("adapter", spec=hostile))
    assert meta["license"] == "other" and meta["tags"][2] == "sql\n---\nlicense: mit"


def test_check_card_rejects_metadata_that_does_not_round_trip() -> None:
    text = render_card(inputs("adapter"))
    with pytest.raises(AxowrapError, match="metadata does not round-trip"):
        check_card(text, {**card_metadata(inputs("adapter")), "license": "mit"}, REPOS["adapter"])


def test_modelfile_points_at_the_gguf_beside_it() -> None:
    text = '# made by axowrap\nFROM ../gguf/sql-q4_k_m.gguf\nTEMPLATE """{{ .Prompt }}"""\n'
    assert repo_modelfile(text) == '# made by axowrap\nFROM ./sql-q4_k_m.gguf\nTEMPLATE """{{ .Prompt }}"""\n'


def test_spec_rules_for_export_hub(workdir: Path) -> None:
    from helpers import run_cli

    spec = write(
        workdir / "s.yaml",
        "task: sql\nbase_model: Qwen/Qwen2.5-0.5B\ndatasets: [{path: examples/data/sql.jsonl}]\n"
        "method: full\nexport: {gguf: [], hub: {adapter: a/b, gguf: a/c, private: false}}\n",
    )
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert "error: export.hub.adapter: full fine-tuning makes no adapter to push" in res.out + res.err
    assert "error: export.hub.gguf: nothing to push: the spec makes no GGUF files" in res.out + res.err
    assert "warning: export.hub.private: the Hub repos will be created public" in res.out + res.err


# -- the client against the local Hub ------------------------------------------------------------


def test_403_and_404_name_the_repo_and_what_to_do(hub: Hub) -> None:
    from axowrap.hub.client import HubClient

    client = HubClient(hub.url)
    hub.status = 403
    with pytest.raises(AxowrapError) as err:
        client.ensure_repo("acme/sql", private=True)
    assert err.value.message == "creating acme/sql: the token may not write there (403 Forbidden)"
    assert "member of `acme`" in str(err.value.hint)
    hub.status = None
    with pytest.raises(AxowrapError) as err:
        client.remote_files("acme/missing")
    assert err.value.message == f"listing acme/missing: not found at {hub.url} (404)"


def test_connection_errors_are_retried_with_backoff(hub: Hub) -> None:
    from axowrap.hub.client import BACKOFF, HubClient

    slept: list[float] = []
    closed = "http://127.0.0.1:9"  # discard port: connection refused
    client = HubClient(closed, sleep=slept.append)
    with pytest.raises(
        AxowrapError, match=r"creating acme/sql: failed at http://127.0.0.1:9 \(ConnectError\) after 5 tries"
    ):
        client.ensure_repo("acme/sql", private=True)
    assert slept == list(BACKOFF)


def test_offline_mode_is_a_clear_error(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from axowrap.hub.client import HubClient

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(AxowrapError, match="HF_HUB_OFFLINE is set"):
        HubClient(hub.url)


def test_card_links_the_tracker_runs() -> None:
    tracking = {
        "mlflow": {"run_id": "9f2c", "experiment_id": "3", "tracking_uri": "https://mlflow.acme.dev"},
        "wandb": {"id": "k3x9", "project": "sql`](evil)", "entity": "acme", "mode": "online"},
        "tensorboard": {"dir": "/runs/x/tracking/tensorboard"},
    }
    text = render_card(inputs("adapter", tracking=tracking))
    assert "## Experiment tracking" in text
    assert "- MLflow: [9f2c](https://mlflow.acme.dev/#/experiments/3/runs/9f2c)" in text
    assert "- W&B: [k3x9](https://wandb.ai/acme/sqlevil/runs/k3x9)" in text  # markdown characters removed
    assert "- TensorBoard: event files in the run directory" in text
    assert "## Experiment tracking" not in render_card(inputs("adapter"))
