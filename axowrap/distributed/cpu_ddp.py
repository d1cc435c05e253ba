"""An Axolotl plugin that lets data-parallel training run on CPU processes (gloo).

With more than one process Axolotl places each rank's model on GPU LOCAL_RANK
(`device_map = {"": LOCAL_RANK}`, set while it normalizes the config). This plugin puts
it back on the CPU after that, before the model loads, and logs one line per rank with the
world size and a digest of the rank's first batch, so a run shows that the ranks really
split the data. Listed in `plugins:` by axowrap for CPU targets with more than one process.

Imported only by Axolotl, inside the training processes (so the heavy imports are fine).
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Any

from axolotl.integrations.base import BasePlugin

MARK = "axowrap-ddp"


def _report(trainer: Any, inputs: dict[str, Any]) -> None:
    import torch.distributed as dist

    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world > 1 else 0
    ids = inputs.get("input_ids")
    digest = hashlib.sha256(ids.cpu().numpy().tobytes()).hexdigest()[:16] if ids is not None else "none"
    backend = dist.get_backend_config() if world > 1 else "none"
    # One write(2) of the whole line: ranks share the pipe, and print() writes the text and its
    # newline separately, so two ranks' lines could run together.
    sys.stderr.flush()
    os.write(2, f"{MARK} rank={rank} world_size={world} backend={backend} first_batch={digest}\n".encode())


class CpuDdpPlugin(BasePlugin):
    def load_datasets(self, cfg: Any, preprocess: bool = False) -> None:
        # Called with the normalized config, before the model loads; returns None so
        # Axolotl loads the datasets itself.
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            cfg.device_map = {"": "cpu"}
        return None

    def post_trainer_create(self, cfg: Any, trainer: Any) -> None:
        step = trainer.training_step
        seen = {"done": False}

        def training_step(model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            if not seen["done"]:
                seen["done"] = True
                _report(trainer, inputs)
            return step(model, inputs, *args, **kwargs)

        trainer.training_step = training_step
