"""templates/ and schemas/ are found from an installed, non-editable wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO


@pytest.mark.slow
def test_installed_wheel_finds_its_data(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(wheels)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("axowrap-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").mkdir()
    (work / "data" / "sql.jsonl").write_text((EXAMPLES / "data" / "sql.jsonl").read_text())
    (work / "sql.yaml").write_text((EXAMPLES / "sql.yaml").read_text())
    code = (
        "import axowrap.resources as r, sys; from axowrap.cli.main import main; "
        "print(r.templates_dir()); print(r.schemas_dir()); sys.exit(main(['render', 'sql.yaml', '-o', 'out.yaml']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    templates, schemas = out.stdout.splitlines()[:2]
    assert templates == str(site / "axowrap" / "templates")
    assert schemas == str(site / "axowrap" / "schemas")
    assert "lora_target_linear: true" in (work / "out.yaml").read_text()
