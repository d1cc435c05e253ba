"""Training data: where rows come from, what they say, and what the run gets.

readers.py is THE row reader (JSON lines, JSON arrays, CSV, Parquet, Arrow, text; every
consumer reads through it), sources.py says which files hold a spec dataset's rows (a local
file, or a Hub dataset resolved and downloaded by hub.py), formats.py checks one row against
a format (roles.py renders the run's chat template to judge role order), content.py finds
duplicates, leaks and short targets across rows (scan.py gives it each row's facts, from two
worker processes for a large JSON lines file), tokens.py measures lengths with the model's
tokenizer, check.py ties them into the `data check` report, split.py writes the run's training
and held-out rows (row limits; mixtures by weight from mixture.py), texts.py reads a row's
prompt and target whatever its format.
"""
