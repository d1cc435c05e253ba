"""Team config repos: scaffold, discovery of every spec, render checks, locks, diffs, provenance."""
