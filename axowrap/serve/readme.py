"""serve/README.md: exact commands (vLLM, llama.cpp server, Ollama) with the run's real paths."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from axowrap.run.rundir import RunDir

if TYPE_CHECKING:
    from axowrap.chat.format import PromptFormat
    from axowrap.serve.modelfile import ServeTemplate


def readme_text(
    run: RunDir, name: str, ggufs: dict[str, Path], chosen: str, served: ServeTemplate, fmt: PromptFormat
) -> str:
    import json

    from axowrap.templating import render_template

    example = fmt.prompt([{"role": "user", "content": "Hello"}])
    completion = json.dumps({"prompt": example, "max_tokens": 128, "temperature": 0})

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
        served=served,
        kind=fmt.kind,
        completion_body=completion,
    )
