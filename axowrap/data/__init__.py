"""The dataset doctor: read training data streaming, check its structure, content and tokens.

readers.py turns a file into rows (with line or row numbers), formats.py checks one row
against a format, content.py finds duplicates, leaks and short targets across rows,
tokens.py measures lengths with the model's tokenizer, check.py ties them into one report
and rules.py lets `axowrap validate` run the structural part.
"""
