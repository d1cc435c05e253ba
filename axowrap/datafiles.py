"""The local data files axowrap reads, by suffix, with the Axolotl `ds_type` that loads each.

The one table of data-file types: the spec's "local path or Hub id?" answer, rendering and the
row reader (axowrap.data.readers) use it.
"""

from __future__ import annotations

DATA_FILE_TYPES = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".txt": "text",
}
