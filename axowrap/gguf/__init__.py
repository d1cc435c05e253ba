"""GGUF export helpers of the gguf step: convert the merged model (convert.py), quantize the
f16 file (quantize.py) and smoke-test every file in a child process (smoke.py). The type
table is axowrap.gguf_types."""
