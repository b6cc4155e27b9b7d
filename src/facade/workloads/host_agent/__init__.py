"""The host agent (`facade host-agent`): the program that runs on each host of a multi-host
control plane (docs/multi-host.md, "Host agents"). It registers its host with the control
plane at its underlay address, with its host's token, then heartbeats; a host whose agent goes
silent for 5 s is lost. In this version it does only that: the desired state of its host's
nodes is pulled and applied by a later slice, so nothing it does changes the host's kernel.

It speaks to the control plane over HTTP only (the standard library's urllib), like any
client: nothing of the control plane is imported (the workloads contracts, pyproject.toml).
"""
