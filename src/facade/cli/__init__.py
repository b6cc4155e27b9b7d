"""The `facade` command: a pure HTTP client of the control plane's REST API (docs/api.md).

Nothing here touches the store, the reconciler or the kernel; `facade up` and `facade cleanup`
start other programs (the server, the cleanup module) as separate processes instead of importing them.
"""
