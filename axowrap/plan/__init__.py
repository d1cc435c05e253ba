"""The resource plan: memory per GPU by component, a verdict per target, what would make it
fit, and time, cost and disk. families.py knows model shapes, memory.py does the arithmetic,
recommend.py searches for changes that fit, cost.py turns tokens into hours, money and disk,
and build.py assembles a plan for a spec."""
