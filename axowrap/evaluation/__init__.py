"""Evaluation: the held-out domain task for lm-eval, metrics, the LLM judge and the gate."""
