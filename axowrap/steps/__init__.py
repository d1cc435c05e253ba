"""Pipeline steps, one module each (train, merge, gguf, eval, push), all listed in
registry.py; base.py defines what a step is."""
