"""Sweeps: one spec, several values of some keys, each point an ordinary run directory.

grid.py turns `--grid`/`--range` into points (each a tuple of `--set` overrides); record.py
keeps the sweep's folder and sweep.json (what each point is, where it ran, how it went);
runner.py prices every point with the planner, refuses those that do not fit, then runs the
rest one after another, sharing their prepared data; leaderboard.py reads each point's eval
and training logs into the table and the overlaid loss plot; promote.py writes a point's
values back into the spec.
"""
