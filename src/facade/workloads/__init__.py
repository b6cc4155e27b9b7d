"""Built-in workloads: stdlib-only HTTP services run as `python -m facade.workloads.X` in nodes."""
