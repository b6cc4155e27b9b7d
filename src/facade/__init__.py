"""Facade: composed appliance services in virtual private networks, on real Linux networking.

Kept free of imports on purpose: workloads run as `python -m facade.workloads.X` inside node
namespaces and must start fast.
"""

__version__ = "0.1.0"
