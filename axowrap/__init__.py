"""axowrap: short task specs -> validated Axolotl configs, and the fine-tuning pipeline around them."""

from __future__ import annotations

__version__ = "0.1.0"
