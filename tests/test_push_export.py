"""push on the real export chain: the GGUF files and Modelfile the real merge + gguf steps made
(tests/conftest_export.py), uploaded to the local Hub."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hub_server import Hub

from axowrap.run.rundir import RunDir

pytestmark = [pytest.mark.slow, pytest.mark.axolotl]


def test_push_real_gguf_and_merged(gguf_run: tuple[RunDir, dict[str, Any]], hub: Hub, tmp_path: Path) -> None:
    import json
    import shutil

    from huggingface_hub import ModelCard

    from axowrap.run.events import Events
    from axowrap.run.pipeline import adopt, run_steps

    src, _ = gguf_run
    run = RunDir(tmp_path / "run")
    shutil.copytree(src.root, run.root)  # the session's run stays as it was for other tests
    manifest = json.loads(run.manifest.read_text())
    manifest["spec"]["effective"]["export"]["hub"] = {"merged": "acme/tiny", "gguf": "acme/tiny-GGUF"}
    run.manifest.write_text(json.dumps(manifest))
    run.eval.mkdir(exist_ok=True)
    (run.eval / "results.json").write_text(json.dumps({"metrics": {}, "n": 0}))
    for step in ("train", "merge", "gguf"):
        adopt(run, step, {"made": "by the real steps (tests/conftest_export.py)"})
    adopt(run, "eval", {"gate": {"ran": True, "passed": True, "failures": []}})
    state = run_steps(run, ["push"], options={"endpoint": hub.url}, events=Events(lambda _line: None))
    result = state["push"]["result"]
    ggufs = sorted(run.gguf.glob("*.gguf"))
    assert len(ggufs) == 3
    stored = hub.file_bytes("acme/tiny-GGUF")
    assert set(stored) == {*(p.name for p in ggufs), "Modelfile", "README.md"}
    for p in ggufs:
        assert hashlib.sha256(stored[p.name]).hexdigest() == hashlib.sha256(p.read_bytes()).hexdigest()
        assert hub.repos["acme/tiny-GGUF"].files[p.name].lfs
    src_line = next(line for line in stored["Modelfile"].decode().splitlines() if line.startswith("FROM "))
    assert src_line.removeprefix("FROM ./") in stored  # the Modelfile's GGUF is in the repo
    merged = {p.relative_to(run.merged).as_posix(): p for p in run.merged.rglob("*") if p.is_file()}
    assert set(hub.file_bytes("acme/tiny")) == {*merged, "README.md"}
    card = ModelCard(stored["README.md"].decode())
    assert card.data.base_model == "acme/tiny" and card.data.library_name == "gguf"
    for p in ggufs:
        assert f"--hf-file {p.name}" in card.text
    assert set(result["repos"]) == {"merged", "gguf"}
    assert Path(run.log("push")).is_file()
