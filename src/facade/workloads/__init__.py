"""Programs run as `python -m facade.workloads.X`: the built-in workloads of backend nodes
(http_echo, search, web: stdlib only) and the management agent (`agent`, in router namespaces)."""
