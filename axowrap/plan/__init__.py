"""The resource plan: memory per GPU by component, a verdict per target, what would make it
fit, time, cost and disk, and the plan against what runs measured. dims.py is a model's shape
and parameter counts; modelconfig.py reads one from a config.json (dense, MoE, vision);
hubfiles.py finds that config.json in the Hugging Face cache or on the Hub; families.py picks
the source (local folder, cache, Hub, else the built-in table in families.yaml); memory.py does
the arithmetic; recommend.py searches for changes that fit; cost.py turns tokens into hours,
money and disk; build.py assembles a plan for a spec; calibrate.py compares a plan with a run's
measurements and fits a target's overhead and utilization. The formulas: docs/plan.md."""
