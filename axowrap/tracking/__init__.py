"""Experiment trackers (W&B, MLflow, TensorBoard) for the spec's `tracking:` section.

keys.py says what the section renders to (Axolotl's own keys), which packages each tracker
needs and which config keys only log (never part of the train fingerprint); runs.py keeps one
tracker run per run directory (its id in state.json, reused on resume), gives the training
child the environment that attaches to it, logs the run's files and results at the end, and
says where each tracker run can be seen (status, report.md, model cards); worker.py runs
runs.py's MLflow calls in a process of its own (worker_process.py), so the runner never waits
on `import mlflow`.
"""
