"""Hub datasets, first class: resolved to a commit, downloaded once through the real
huggingface_hub client from a local server that speaks the Hub's download protocol
(tests/hub_server.py), then checked, split and pinned exactly like local files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write
from helpers import run_cli
from hub_server import TOKEN, Hub

from axowrap.data.hub import HubDataError, choose_files, readme_configs

REPO = Path(__file__).resolve().parent.parent
ALPACA = REPO / "tests" / "data" / "alpaca_sample.jsonl"
DATASET = "org/alpaca-mini"

SPEC = """\
task: instruct
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets:
  - path: {path}
    format: alpaca
    fields: {{instruction: instruction, input: input, output: output}}
{extra}training: {{seed: 42}}
eval: {{holdout: 0.1}}
compute: {{target: cpu}}
"""


def rows(n: int = 200) -> list[dict[str, Any]]:
    return [json.loads(x) for x in ALPACA.read_text(encoding="utf-8").splitlines()[:n]]


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items).encode()


def parquet(items: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(items), sink)
    return sink.getvalue()


@pytest.fixture
def online(hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Hub:
    """The local Hub as HF_ENDPOINT, with a dataset repo as the Hub serves one: JSONL files on
    main, the Parquet files of its conversion on refs/convert/parquet."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.chdir(tmp_path)
    data = rows()
    hub.add_dataset(
        DATASET,
        {
            "README.md": b"---\nlicense: cc-by-nc-4.0\n---\n# alpaca mini\n",
            "data/train-00000-of-00001.jsonl": jsonl(data[:180]),
            "data/test-00000-of-00001.jsonl": jsonl(data[180:]),
        },
    )
    hub.add_dataset(
        DATASET,
        {"default/train/0000.parquet": parquet(data[:180]), "default/test/0000.parquet": parquet(data[180:])},
        revision="refs/convert/parquet",
    )
    return hub


def spec(folder: Path, path: str = DATASET, **keys: Any) -> Path:
    extra = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in keys.items())
    return write(folder / "spec.yaml", SPEC.format(path=path, extra=extra))


def gets(hub: Hub, part: str) -> int:
    return sum(1 for method, path in hub.requests if method == "GET" and part in path)


def test_data_check_downloads_once_then_reads_the_cache(online: Hub, tmp_path: Path) -> None:
    path = spec(tmp_path)
    first = run_cli("data", "check", str(path), "--json", "--no-tokens")
    assert first.code == 0, first.err
    report = json.loads(first.out)
    ds = report["datasets"][0]
    assert ds["rows"] == 180 and ds["hub"]["files"] == ["data/train-00000-of-00001.jsonl"]
    assert ds["hub"]["sha"] == online.datasets[DATASET].refs["main"]
    assert any(n.startswith(f"datasets[0]: Hub dataset {DATASET} at ") for n in report["notes"])
    assert run_cli("data", "check", str(path), "--no-tokens").code == 0
    assert gets(online, "/resolve/") == 2  # README.md and the train file, each once
    cached = tmp_path / "hf-home" / "hub" / "datasets--org--alpaca-mini" / "snapshots" / ds["hub"]["sha"]
    assert sorted(p.name for p in cached.rglob("*") if p.is_file()) == ["README.md", "train-00000-of-00001.jsonl"]


def test_offline_reads_the_cache_and_says_how_to_fetch_what_is_missing(
    online: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    path = spec(tmp_path)
    assert run_cli("data", "check", str(path), "--no-tokens").code == 0
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    before = len(online.requests)
    res = run_cli("data", "check", str(path), "--no-tokens")
    assert res.code == 0 and len(online.requests) == before
    assert "from the cache (the Hub was not asked)" in res.out
    other = spec(tmp_path, split="test")  # never downloaded
    res = run_cli("data", "check", str(other), "--no-tokens")
    assert res.code == 1
    assert (
        f"datasets[0].split: Hub dataset '{DATASET}' (main): no split 'test' (the repo has: train), in the cached "
        "files (HF_HUB_OFFLINE is set)" in res.err
    )
    assert f"hf download --repo-type dataset {DATASET}" in res.err
    uncached = spec(tmp_path, path="org/never-downloaded")
    res = run_cli("data", "check", str(uncached), "--no-tokens")
    assert res.code == 1 and res.err.count("error:") == 1
    assert (
        "datasets[0].path: Hub dataset 'org/never-downloaded' (main) cannot be fetched: HF_HUB_OFFLINE is set, "
        f"and it is not in the cache ({tmp_path / 'hf-home' / 'hub'}); endpoint {online.url}" in res.err
    )


def test_an_unreachable_hub_is_one_clear_error(online: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    res = run_cli("data", "check", str(spec(tmp_path)), "--no-tokens")
    assert res.code == 1 and "Traceback" not in res.err
    assert f"cannot be fetched: {dead} is unreachable" in res.err and f"endpoint {dead}" in res.err
    assert f"hint: fetch it once where the Hub is reachable: `hf download --repo-type dataset {DATASET}`" in res.err


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"path": "org/no-such-dataset"}, "datasets[0].path: no Hub dataset 'org/no-such-dataset' at {url}"),
        ({"revision": "v9"}, f"datasets[0].revision: Hub dataset '{DATASET}' has no revision 'v9' at {{url}}"),
        ({"split": "validation"}, "datasets[0].split: no split 'validation' (the repo has: test, train)"),
        ({"name": "fr"}, "datasets[0].name: no subset 'fr' (the repo's folders: data)"),
        (
            {"revision": "refs/convert/parquet", "name": "fr"},
            "datasets[0].name: no subset 'fr' (the repo's folders: default)",
        ),
        ({"data_files": "data/dev-*.jsonl"}, "datasets[0].data_files: `data_files` ['data/dev-*.jsonl'] match no"),
    ],
)
def test_bad_hub_input_fails_before_training(online: Hub, tmp_path: Path, keys: dict[str, Any], message: str) -> None:
    keys = dict(keys)
    path = spec(tmp_path, path=keys.pop("path", DATASET), **keys)
    res = run_cli("run", str(path), "--dry-run")
    assert res.code == 1 and "Traceback" not in res.err
    assert message.format(url=online.url) in res.err, res.err
    assert not list(tmp_path.glob("runs/*/state.json"))  # nothing ran


def test_converted_parquet_subset_and_split(online: Hub, tmp_path: Path) -> None:
    path = spec(tmp_path, revision="refs/convert/parquet", name="default", split="test")
    res = run_cli("data", "check", str(path), "--json", "--no-tokens")
    assert res.code == 0, res.err
    ds = json.loads(res.out)["datasets"][0]
    assert ds["rows"] == 20 and ds["hub"]["files"] == ["default/test/0000.parquet"]
    assert ds["hub"]["sha"] == online.datasets[DATASET].refs["refs/convert/parquet"]


def test_run_splits_hub_rows_like_a_local_file_and_records_the_commit(online: Hub, tmp_path: Path) -> None:
    from axowrap.run.manifest import load_manifest
    from axowrap.run.pipeline import prepare_run

    write(tmp_path / "data" / "train.jsonl", jsonl(rows()[:180]).decode())
    hub_run = prepare_run(spec(tmp_path / "a"), tmp_path / "runs")
    local_run = prepare_run(spec(tmp_path / "b", path=str(tmp_path / "data" / "train.jsonl")), tmp_path / "runs")
    for name in ("train-0.jsonl", "holdout.jsonl"):  # the same rows give the same split
        assert (hub_run.data / name).read_bytes() == (local_run.data / name).read_bytes()
    entry = load_manifest(hub_run)["datasets"][0]
    assert entry["source"] == DATASET and entry["hub"] == {
        "id": DATASET,
        "revision": "main",
        "sha": online.datasets[DATASET].refs["main"],
        "name": None,
        "split": "train",
        "files": ["data/train-00000-of-00001.jsonl"],
    }


def test_private_dataset_uses_the_token_and_never_writes_it(
    online: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    online.add_dataset("org/private", {"train.jsonl": jsonl(rows()[:30])}, private=True)
    path = spec(tmp_path, path="org/private")
    res = run_cli("run", str(path), "--dry-run", "--steps", "train")
    assert res.code == 0, res.err
    for file in (tmp_path / "runs").rglob("*"):
        if file.is_file():
            assert TOKEN not in file.read_text(encoding="utf-8", errors="replace"), file
    assert TOKEN not in res.out + res.err
    monkeypatch.delenv("HF_TOKEN")
    res = run_cli("data", "check", str(path), "--no-tokens")
    assert res.code == 1 and "no Hub dataset 'org/private'" in res.err and "set HF_TOKEN" in res.err


def test_lock_pins_the_commit_and_run_locked_refuses_a_new_one(online: Hub, tmp_path: Path) -> None:
    path = spec(tmp_path)
    path.write_text(path.read_text() + f"revision: {'a' * 40}\n")  # the base model, pinned in the spec
    assert run_cli("lock", "spec.yaml").code == 0
    lock = yaml.safe_load((tmp_path / "axowrap.lock").read_text())
    sha = online.datasets[DATASET].refs["main"]
    assert lock["specs"]["spec.yaml"]["datasets"] == {f"hub:{DATASET}@main": sha}
    assert gets(online, "/resolve/data/") == 0  # pinning downloads no data
    assert run_cli("run", str(path), "--locked", "--dry-run", "--steps", "train").code == 0
    new = online.add_dataset(DATASET, {"data/train-00000-of-00001.jsonl": jsonl(rows()[:100])})
    res = run_cli("run", str(path), "--locked", "--dry-run")
    assert res.code == 1
    assert f"dataset hub:{DATASET}@main: commit locked {sha[:12]}, now {new[:12]}" in res.err


# --- which files make a subset and split -------------------------------------------------------

LAYOUTS: list[tuple[list[str], str | None, str, list[str]]] = [
    (["train.jsonl", "test.jsonl"], None, "train", ["train.jsonl"]),
    (
        ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/validation-0.parquet"],
        None,
        "train",
        ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"],
    ),
    (
        ["data/train_sft-00000-of-00001.parquet", "data/test_sft-00000-of-00001.parquet"],
        None,
        "train_sft",
        ["data/train_sft-00000-of-00001.parquet"],
    ),
    (
        ["data/train.jsonl", "data/validation-0.jsonl", "x/dev-b.jsonl"],
        None,
        "validation",
        ["data/validation-0.jsonl", "x/dev-b.jsonl"],
    ),
    (["train_part/a.jsonl", "part-test/b.jsonl"], None, "test", ["part-test/b.jsonl"]),
    (["rows.csv", "more.csv"], None, "train", ["more.csv", "rows.csv"]),
    (["train/a.jsonl", "dev/b.jsonl"], None, "validation", ["dev/b.jsonl"]),
    (["my_train_file.json", "my_test_file.json"], None, "test", ["my_test_file.json"]),
    (
        ["default/train/0000.parquet", "default/test/0000.parquet", "fr/train/0000.parquet"],
        "fr",
        "train",
        ["fr/train/0000.parquet"],
    ),
]


@pytest.mark.parametrize(("files", "name", "split", "chosen"), LAYOUTS)
def test_file_choice(files: list[str], name: str | None, split: str, chosen: list[str]) -> None:
    assert choose_files(files, name=name, split=split) == chosen


def test_dataset_card_configs_choose_the_files() -> None:
    card = """---
configs:
- config_name: default
  default: true
  data_files:
  - split: train_sft
    path: data/train_sft-*
  - split: test_sft
    path: data/test_sft-*
- config_name: raw
  data_files: raw/*.jsonl
---
"""
    files = [
        "data/train_sft-00000-of-00001.parquet",
        "data/test_sft-00000-of-00001.parquet",
        "raw/a.jsonl",
        "README.md",
    ]
    configs = readme_configs(card)
    assert choose_files(files, configs=configs, split="train_sft") == ["data/train_sft-00000-of-00001.parquet"]
    assert choose_files(files, configs=configs, name="raw") == ["raw/a.jsonl"]
    with pytest.raises(HubDataError, match=r"no split 'train' in subset 'default' \(it has: train_sft, test_sft\)"):
        choose_files(files, configs=configs)
    with pytest.raises(HubDataError, match=r"no subset 'fr' \(the dataset card lists: default, raw\)"):
        choose_files(files, configs=configs, name="fr")
    assert choose_files(files, data_files={"train": "raw/*.jsonl"}) == ["raw/a.jsonl"]


@pytest.mark.slow  # imports `datasets` (~5 s)
@pytest.mark.parametrize(("files", "name", "split", "chosen"), [x for x in LAYOUTS if x[1] is None])
def test_file_choice_agrees_with_datasets(
    tmp_path: Path, files: list[str], name: str | None, split: str, chosen: list[str]
) -> None:
    """The `datasets` library (what Axolotl loads Hub datasets with) splits the files the same way."""
    from datasets.data_files import DataFilesDict, get_data_patterns

    from axowrap.data.hub import default_splits

    for f in files:
        write(tmp_path / f, "")
    resolved = DataFilesDict.from_patterns(get_data_patterns(str(tmp_path)), base_path=str(tmp_path))
    theirs = {s: sorted(Path(p).relative_to(tmp_path).as_posix() for p in v) for s, v in resolved.items()}
    assert {s: sorted(v) for s, v in default_splits(files).items()} == theirs
    assert sorted(theirs[split]) == chosen
