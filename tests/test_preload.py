"""axowrap/preload.py: imports with the garbage collector paused, restored as it was, and a
module that fails to import left to its user."""

from __future__ import annotations

import gc
import sys

from axowrap.preload import preload


def test_the_collector_is_paused_during_the_imports_and_restored_as_it_was(tmp_path, monkeypatch) -> None:
    (tmp_path / "pre_seen.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    (tmp_path / "pre_broken.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert gc.isenabled()
    preload(["pre_broken", "pre_seen"])  # a failure does not stop the rest
    assert sys.modules["pre_seen"].COLLECTING is False and "pre_broken" not in sys.modules
    assert gc.isenabled()
    gc.disable()
    try:
        preload(["pre_seen"])
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
