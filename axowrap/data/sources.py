"""Where a spec dataset's rows come from: its local file, or the data files of a Hub dataset
(resolved to a commit and downloaded once, axowrap.data.hub). Everything that reads a spec's
rows (the data check, the held-out split, token statistics, `axowrap lock`) starts here, so a
Hub dataset gets exactly what a local file gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axowrap.errors import AxowrapError

if TYPE_CHECKING:
    from axowrap.data.hub import HubDataset
    from axowrap.spec.model import Spec


@dataclass(frozen=True)
class DataSource:
    """One spec dataset: its index, how the spec names it, and the local files holding its rows."""

    index: int
    shown: str
    files: list[Path]
    hub: HubDataset | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.shown}
        if self.hub is not None:
            out["hub"] = self.hub.to_json()
        return out


def open_source(spec: Spec, index: int, *, progress: bool = True) -> DataSource:
    """The rows' files of `datasets[index]`: the local file, or the Hub dataset's files (downloaded
    into the Hugging Face cache when not there yet). A Hub problem is an error at its spec key."""
    entry = spec.data["datasets"][index]
    local = spec.local_path(entry["path"])
    if local is not None:
        if not local.is_file():
            raise AxowrapError(
                f"datasets[{index}].path: {entry['path']!r}: no such data file (looked for {local})",
                hint="paths are relative to the spec file",
            )
        return DataSource(index, str(entry["path"]), [local])
    from axowrap.data.hub import HubDataError, resolve

    try:
        found = resolve(entry, progress=progress)
    except HubDataError as exc:
        where = spec.problem(("datasets", index, exc.key), exc.message).where
        raise AxowrapError(f"{where}: datasets[{index}].{exc.key}: {exc.message}", hint=exc.hint) from None
    return DataSource(index, str(entry["path"]), list(found.files), found)
