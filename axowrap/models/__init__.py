"""Models on disk: facts read from a model folder (facts.py) and turning a GGUF file into a
trainable checkpoint (gguf_import.py)."""
