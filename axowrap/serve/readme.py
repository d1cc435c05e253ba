"""serve/README.md: exact commands (vLLM, llama.cpp server, Ollama) with the run's real paths."""

from __future__ import annotations

from pathlib import Path

from axowrap.run.rundir import RunDir


def readme_text(run: RunDir, name: str, ggufs: dict[str, Path], chosen: str, family: str | None) -> str:
    from axowrap.templating import render_template

    return render_template(
        "serve-README.md.j2",
        model=name,
        run_root=str(run.root),
        merged=str(run.merged),
        serve_dir=str(run.serve),
        modelfile=str(run.serve / "Modelfile"),
        ggufs=[(t, str(p)) for t, p in ggufs.items()],
        chosen=chosen,
        chosen_path=str(ggufs[chosen]),
        family=family,
    )
