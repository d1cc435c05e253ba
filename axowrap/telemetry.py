"""The environment that switches the stack's telemetry off, in each package's own terms.

axowrap never lets a child (the trainer, the Axolotl referee, the tracking worker) send usage
data. `DO_NOT_TRACK=1` is the common convention, but not every package reads it the same way:
Axolotl and huggingface_hub take `1`, while MLflow (3.x, `mlflow.telemetry.utils.
is_telemetry_disabled`) takes only `DO_NOT_TRACK=true` and otherwise needs its own
`MLFLOW_DISABLE_TELEMETRY`. tests/test_telemetry.py asks each installed package whether this
environment switches it off.
"""

from __future__ import annotations

TELEMETRY_OFF: dict[str, str] = {
    "DO_NOT_TRACK": "1",  # huggingface_hub, and Axolotl (besides its own below)
    "AXOLOTL_DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow reads DO_NOT_TRACK only as "true"
}
