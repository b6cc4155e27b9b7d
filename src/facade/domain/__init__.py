"""Pure rules of Facade: errors, IPAM, kernel names, desired-state specs, scenario files.

Nothing here does I/O or imports fastapi, sqlalchemy, pyroute2 or httpx (import-linter checks it).
"""
