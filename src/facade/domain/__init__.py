"""Pure rules of Facade: errors, IPAM, kernel names, desired-state specs, the create commands,
a scenario file's declarations (the file itself is read by facade.scenario).

Nothing here does I/O or imports fastapi, sqlalchemy, pyroute2, httpx, yaml or pydantic
(import-linter checks it).
"""
