"""The push step against a local Hub (tests/hub_server.py) through the real huggingface_hub client:
adapter, merged model and GGUF repos, bytes and hashes, LFS and inline, cards, idempotence,
retries, and the 401 path."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tiny_spec
from helpers import run_cli
from hub_server import TOKEN, Hub

from axowrap.errors import AxowrapError
from axowrap.run.events import Events
from axowrap.run.rundir import RunDir

pytestmark = pytest.mark.axolotl  # the adapter is the real one Axolotl trains (tiny_adapter)

REPOS = {"adapter": "acme/sql-lora", "merged": "acme/sql", "gguf": "acme/sql-GGUF"}
METRICS = {"exact_match": {"base": 0.1, "tuned": 0.6, "delta": 0.5, "higher_is_better": True}}


def tiny_gguf(path: Path, fill: float) -> None:
    """A real (tiny) GGUF file, written with gguf's own writer: push only uploads whole outputs."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("w", np.full((64, 64), fill, dtype=np.float32))  # 16 KB: above the LFS threshold
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def record_done(run: RunDir, *steps: str) -> None:
    """Record steps as done for the current spec with the outputs on disk (the runner's own
    check and hashing: axowrap.run.pipeline.adopt); eval with a gate that passed."""
    from axowrap.run.pipeline import adopt

    for name in steps:
        gate = {"ran": True, "passed": True, "failures": []}
        adopt(run, name, {"gate": gate, "metrics": METRICS} if name == "eval" else {"made": "outside the runner"})


@pytest.fixture(scope="session")
def push_run_template(tiny_model: Path, tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A prepared run (real runner layout) with every artifact push reads, recorded as the
    runner records a step's outputs: the real adapter (with its checkpoints, which must not be
    uploaded), a merged stand-in (the tiny model), two small real GGUF files, serve/Modelfile,
    and eval results whose gate passed."""
    from axowrap.run.pipeline import prepare_run

    folder = tmp_path_factory.mktemp("push-src")
    spec_path = tiny_spec(folder, tiny_model)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["export"]["hub"] = dict(REPOS)
    spec["export"]["gguf"] = ["f16", "q8_0"]
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    run = prepare_run(spec_path, folder / "runs")
    shutil.copytree(tiny_adapter, run.adapter, ignore=shutil.ignore_patterns("prepared"))
    shutil.copytree(tiny_model, run.merged)
    run.gguf.mkdir()
    tiny_gguf(run.gguf / "tiny-q8_0.gguf", 1.0)
    tiny_gguf(run.gguf / "tiny-f16.gguf", 2.0)
    run.serve.mkdir()
    (run.serve / "Modelfile").write_text("FROM ../gguf/tiny-q8_0.gguf\nPARAMETER temperature 0\n", encoding="utf-8")
    (run.serve / "README.md").write_text("# Serving tiny\n", encoding="utf-8")
    run.eval.mkdir()
    (run.eval / "results.json").write_text(json.dumps({"metrics": METRICS, "n": 10}), encoding="utf-8")
    record_done(run, "train", "merge", "gguf", "eval")
    return run


@pytest.fixture
def push_run(push_run_template: RunDir, tmp_path: Path) -> RunDir:
    root = tmp_path / push_run_template.root.name
    shutil.copytree(push_run_template.root, root)
    run = RunDir(root)
    # the manifest and state hold absolute paths of the template; the files pushed are this copy's
    return run


def push(run: RunDir, *extra: str, endpoint: str | None = None) -> Any:
    return run_cli("push", str(run.root), *extra, *(["--endpoint", endpoint] if endpoint else []))


def expected_files(run: RunDir) -> dict[str, dict[str, Path]]:
    from axowrap.hub.upload import ADAPTER_FILES

    adapter = {n: run.adapter / n for n in ADAPTER_FILES if (run.adapter / n).is_file()}
    merged = {p.relative_to(run.merged).as_posix(): p for p in run.merged.rglob("*") if p.is_file()}
    gguf = {p.name: p for p in run.gguf.glob("*.gguf")}
    return {"adapter": adapter, "merged": merged, "gguf": gguf}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_push_uploads_each_repo_exactly_its_files(push_run: RunDir, hub: Hub) -> None:
    res = push(push_run, endpoint=hub.url)
    assert res.code == 0, res.err
    assert set(hub.repos) == set(REPOS.values())
    lfs_seen, inline_seen = set(), set()
    for kind, files in expected_files(push_run).items():
        repo = hub.repos[REPOS[kind]]
        assert repo.private  # default: nothing public by accident
        assert len(repo.commits) == 1
        names = {*files, "README.md", *(["Modelfile"] if kind == "gguf" else [])}
        assert repo.commits[0]["files"] == sorted(names)  # the commit holds exactly these
        stored = hub.file_bytes(REPOS[kind])
        assert set(stored) == names
        for path, local in files.items():
            assert sha(stored[path]) == sha(local.read_bytes()), f"{kind}: {path}"
        if kind == "gguf":  # the Modelfile, pointed at the GGUF beside it in the repo
            assert stored["Modelfile"] == b"FROM ./tiny-q8_0.gguf\nPARAMETER temperature 0\n"
        lfs_seen |= {p for p, f in repo.files.items() if f.lfs}
        inline_seen |= {p for p, f in repo.files.items() if not f.lfs}
    assert "adapter_model.safetensors" in lfs_seen and "tiny-f16.gguf" in lfs_seen
    assert "adapter_config.json" in inline_seen and "README.md" in inline_seen
    assert not any("checkpoint" in p for r in hub.repos.values() for p in r.files)
    state = json.loads(push_run.state.read_text(encoding="utf-8"))["steps"]["push"]
    assert state["status"] == "done"
    assert state["result"]["repos"]["gguf"]["commit"]["oid"] == hub.repos[REPOS["gguf"]].commits[0]["oid"]


def test_cards_parse_and_carry_the_run(push_run: RunDir, hub: Hub) -> None:
    from huggingface_hub import ModelCard

    assert push(push_run, endpoint=hub.url).code == 0
    cards = {kind: ModelCard(hub.file_bytes(repo)["README.md"].decode()) for kind, repo in REPOS.items()}
    relation = {"adapter": "peft", "merged": "transformers", "gguf": "gguf"}
    for kind, card in cards.items():
        meta = card.data.to_dict()
        assert meta["library_name"] == relation[kind]
        assert meta["tags"][:3] == ["axowrap", "axolotl", "sql"]
        assert meta["pipeline_tag"] == "text-generation"
        assert meta["model-index"][0]["results"][0]["metrics"] == [
            {"type": "exact_match", "value": 0.6, "name": "exact_match"}
        ]
        assert "| exact_match | 0.1 | 0.6 | +0.5 |" in card.text
        assert "lora_r" in card.text and "axolotl" in card.text  # hyperparameters and versions
    # the GGUF card derives from the merged repo, and its usage commands name the real ids
    assert cards["gguf"].data.base_model == REPOS["merged"]
    assert cards["gguf"].data.base_model_relation == "quantized"
    assert f"ollama run hf.co/{REPOS['gguf']}:Q8_0" in cards["gguf"].text
    assert f"llama-cli --hf-repo {REPOS['gguf']} --hf-file tiny-f16.gguf" in cards["gguf"].text
    assert f'PeftModel.from_pretrained(base, "{REPOS["adapter"]}")' in cards["adapter"].text
    assert f"vllm serve {REPOS['merged']}" in cards["merged"].text


def test_second_push_sends_nothing(push_run: RunDir, hub: Hub) -> None:
    assert push(push_run, endpoint=hub.url).code == 0
    before = (hub.count("/commit/"), hub.count("/preupload/"), len(hub.lfs_puts))
    res = push(
        push_run, "--force", "--json", endpoint=hub.url
    )  # --force: not skipped by the runner, compared with the Hub
    assert res.code == 0, res.err
    assert (hub.count("/commit/"), hub.count("/preupload/"), len(hub.lfs_puts)) == before
    events = [json.loads(line) for line in res.out.splitlines()]  # --json: every line is one event
    assert [e["repo"] for e in events if e.get("uploaded") == []] == list(REPOS.values())
    result = json.loads(push_run.state.read_text(encoding="utf-8"))["steps"]["push"]["result"]
    assert all(r["uploaded"] == [] and r["commit"] is None for r in result["repos"].values())


def test_push_completes_what_is_missing(push_run: RunDir, hub: Hub) -> None:
    assert push(push_run, endpoint=hub.url).code == 0
    del hub.repos[REPOS["merged"]].files["config.json"]  # lost on the Hub
    assert push(push_run, "--force", endpoint=hub.url).code == 0
    assert hub.repos[REPOS["merged"]].commits[-1]["files"] == ["config.json"]
    assert len(hub.repos[REPOS["adapter"]].commits) == 1 and len(hub.repos[REPOS["gguf"]].commits) == 1


def test_an_output_changed_since_its_step_is_not_pushed(push_run: RunDir, hub: Hub) -> None:
    """push used to upload whatever was on disk; now only what a step recorded, unchanged."""
    (push_run.gguf / "tiny-q8_0.gguf").write_bytes(b"GGUF-changed" * 500)
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "not pushing gguf: the outputs of step gguf changed since it ran (gguf/tiny-q8_0.gguf:" in res.err
    assert "run `axowrap gguf" in res.err and hub.repos == {}


def test_a_gguf_the_spec_no_longer_asks_for_is_not_pushed(push_run: RunDir, hub: Hub) -> None:
    tiny_gguf(push_run.gguf / "tiny-q4_k_m.gguf", 3.0)  # left by an earlier spec, never recorded
    assert push(push_run, endpoint=hub.url).code == 0
    assert "tiny-q4_k_m.gguf" not in hub.file_bytes(REPOS["gguf"])


def test_a_step_not_done_for_the_current_spec_blocks_the_push(push_run: RunDir, hub: Hub) -> None:
    from axowrap.run import state as st

    st.update_step(push_run, "merge", status=st.FAILED, error={"message": "logit check failed"})
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "not pushing merged: step merge is not done for the current spec (status: failed)" in res.err
    assert hub.repos == {}


def test_no_eval_means_no_push_unless_asked(push_run: RunDir, hub: Hub) -> None:
    from axowrap.run import state as st

    state = st.load_state(push_run)
    del state["steps"]["eval"]
    st.save_state(push_run, state)
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1 and "not pushing: no eval ran, so nothing shows the fine-tuned model works" in res.err
    assert hub.repos == {}
    res = push(push_run, "--no-gate", endpoint=hub.url)
    assert res.code == 0, res.err
    assert "--no-gate: not checking the eval gate" in res.out and len(hub.repos) == 3


def test_an_eval_of_the_base_model_alone_is_no_gate(push_run: RunDir, hub: Hub) -> None:
    from axowrap.run.pipeline import adopt

    adopt(push_run, "eval", {"gate": {"ran": False, "passed": False, "failures": []}, "model": "base"})
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1 and "the last eval scored the base model only" in res.err
    assert hub.repos == {}


def test_results_from_an_earlier_training_do_not_pass_the_gate(push_run: RunDir, hub: Hub) -> None:
    """A new training changes eval's fingerprint (it includes train's outputs): old results
    are not evidence about the new model."""
    weights = push_run.adapter / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # other weights, same size: a retrained adapter
    weights.write_bytes(bytes(data))
    record_done(push_run, "train", "merge", "gguf")  # merge and gguf made again from it; eval not
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "not pushing: the eval results are not for the current training and spec" in res.err


def test_a_public_repo_is_not_pushed_to_when_private_is_asked(push_run: RunDir, hub: Hub) -> None:
    from hub_server import Repo

    hub.repos[REPOS["adapter"]] = Repo(private=False)  # exists, public
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert f"{REPOS['adapter']} is public on {hub.url}, but export.hub.private is true: not pushing" in res.err
    assert hub.repos[REPOS["adapter"]].commits == []


def test_a_commit_whose_answer_was_lost_is_not_made_twice(push_run: RunDir, hub: Hub) -> None:
    hub.lose_commits = 1  # the first commit is made, but its answer is a 500
    res = push(push_run, endpoint=hub.url)
    assert res.code == 0, res.err
    assert "the commit landed although its answer was lost; not committing again" in res.out
    assert all(len(r.commits) == 1 for r in hub.repos.values())


def test_first_commit_500_is_retried(push_run: RunDir, hub: Hub) -> None:
    hub.fail_commits = 1
    res = push(push_run, endpoint=hub.url)
    assert res.code == 0, res.err
    assert "uploading to acme/sql-lora: 500, retry 1" in res.out
    assert hub.count("/commit/") == 4  # 3 repos + the retried one
    assert all(len(r.commits) == 1 for r in hub.repos.values())


def test_401_is_a_clear_error_and_nothing_is_marked_pushed(push_run: RunDir, hub: Hub) -> None:
    hub.status = 401
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "creating acme/sql-lora: the Hub at" in res.err and "rejected the token (401 Unauthorized)" in res.err
    assert "hint: log in with `hf auth login` or set HF_TOKEN" in res.err
    assert "Traceback" not in res.err
    entry = json.loads(push_run.state.read_text(encoding="utf-8"))["steps"]["push"]
    assert entry["status"] == "failed" and "result" not in entry
    assert hub.repos == {}


def test_dry_run_lists_repos_files_sizes_and_cards(push_run: RunDir, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # read at push time, not at import
    res = push(push_run, "--dry-run")
    assert res.code == 0, res.err
    assert hub.requests == []  # nothing sent, not even a listing
    for kind, files in expected_files(push_run).items():
        assert f"{hub.url}/{REPOS[kind]}  ({kind}, private" in res.out
        for path in files:
            assert f"  {path}" in res.out
    assert "checkpoint-" not in res.out
    assert res.out.count("library_name:") == 3 and "----- acme/sql-GGUF/README.md -----" in res.out
    res = push(push_run, "--dry-run", "--json")
    plan = next(e for e in map(json.loads, res.out.splitlines()) if e.get("event") == "plan")
    assert set(plan["repos"]) == set(REPOS.values())
    assert plan["repos"][REPOS["gguf"]]["files"]["tiny-f16.gguf"] == (push_run.gguf / "tiny-f16.gguf").stat().st_size
    assert hub.requests == []


def test_token_is_never_written_or_printed(push_run: RunDir, hub: Hub) -> None:
    outputs = [push(push_run, endpoint=hub.url), push(push_run, "--force", endpoint=hub.url)]
    hub.status = 401
    outputs.append(push(push_run, "--force", endpoint=hub.url))
    for res in outputs:
        assert TOKEN not in res.out and TOKEN not in res.err
    leaked = [p for p in push_run.root.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    assert push_run.log("push").is_file()  # the log exists and was searched


def test_no_token_is_a_clear_error(push_run: RunDir, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "no Hugging Face token to push to" in res.err and "set HF_TOKEN or run `hf auth login`" in res.err
    assert hub.requests == []


def test_missing_artifact_names_the_step_to_run(push_run: RunDir, hub: Hub) -> None:
    shutil.rmtree(push_run.gguf)
    with pytest.raises(AxowrapError, match=r"not pushing gguf: the outputs of step gguf changed since it ran"):
        from axowrap.run.pipeline import run_steps

        run_steps(push_run, ["push"], events=Events(lambda _l: None))


def test_failed_push_is_not_marked_and_a_rerun_completes_it(
    push_run: RunDir, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axowrap.hub import client

    monkeypatch.setattr(client, "BACKOFF", (0.01, 0.01))
    hub.fail_commits = 3  # every try of the first repo's commit
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "uploading to acme/sql-lora: failed at" in res.err and "(HTTP 500) after 3 tries" in res.err
    entry = json.loads(push_run.state.read_text(encoding="utf-8"))["steps"]["push"]
    assert entry["status"] == "failed" and "result" not in entry
    assert all(r.commits == [] for r in hub.repos.values())
    res = push(push_run, endpoint=hub.url)  # same fingerprint: the runner resumes it
    assert res.code == 0, res.err
    assert all(len(r.commits) == 1 for r in hub.repos.values()) and len(hub.repos) == 3
    assert json.loads(push_run.state.read_text(encoding="utf-8"))["steps"]["push"]["status"] == "done"


def test_a_failed_eval_gate_blocks_a_standalone_push(push_run: RunDir, hub: Hub) -> None:
    from axowrap.run import state as st

    results = {
        "metrics": METRICS,
        "n": 10,
        "gate": {"ran": True, "passed": False, "failures": ["exact_match 0.10 < 0.60"]},
    }
    (push_run.eval / "results.json").write_text(json.dumps(results), encoding="utf-8")
    st.update_step(push_run, "eval", status=st.FAILED, error={"message": "eval gate failed"})
    res = push(push_run, endpoint=hub.url)
    assert res.code == 1
    assert "not pushing: the eval gate failed (exact_match 0.10 < 0.60)" in res.err
    assert hub.repos == {}
