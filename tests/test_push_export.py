"""push on the real export chain: the GGUF files and Modelfile the real merge + gguf steps made
(tests/conftest_export.py), uploaded to the local Hub."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest_export import context
from hub_server import Hub

from axowrap.run.rundir import RunDir

pytestmark = [pytest.mark.slow, pytest.mark.axolotl]


def test_push_real_gguf_and_merged(gguf_run: tuple[RunDir, dict[str, Any]], hub: Hub) -> None:
    from huggingface_hub import ModelCard

    from axowrap.steps.push import STEP

    run, _ = gguf_run
    ctx = context(run, "push", options={"endpoint": hub.url})
    ctx.spec["export"]["hub"] = {"merged": "acme/tiny", "gguf": "acme/tiny-GGUF"}
    result = STEP.run(ctx)
    ggufs = sorted(run.gguf.glob("*.gguf"))
    assert len(ggufs) == 3
    stored = hub.file_bytes("acme/tiny-GGUF")
    assert set(stored) == {*(p.name for p in ggufs), "Modelfile", "README.md"}
    for p in ggufs:
        assert hashlib.sha256(stored[p.name]).hexdigest() == hashlib.sha256(p.read_bytes()).hexdigest()
        assert hub.repos["acme/tiny-GGUF"].files[p.name].lfs
    src = next(line for line in stored["Modelfile"].decode().splitlines() if line.startswith("FROM "))
    assert src.removeprefix("FROM ./") in stored  # the Modelfile's GGUF is in the repo
    merged = {p.relative_to(run.merged).as_posix(): p for p in run.merged.rglob("*") if p.is_file()}
    assert set(hub.file_bytes("acme/tiny")) == {*merged, "README.md"}
    card = ModelCard(stored["README.md"].decode())
    assert card.data.base_model == "acme/tiny" and card.data.library_name == "gguf"
    for p in ggufs:
        assert f"--hf-file {p.name}" in card.text
    assert set(result["repos"]) == {"merged", "gguf"}
    assert Path(run.log("push")).is_file()
