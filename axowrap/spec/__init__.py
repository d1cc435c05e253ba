"""Specs: the model (model.py), reading and layering files (read.py, layers.py), task
presets (presets.py; their data in axowrap/presets/), the reference doc (doc.py) and new
specs from a preset (new.py). Nothing here runs feature rules: see axowrap.rules."""
