"""The scenario file (`facade apply -f FILE`): its YAML read with line marks and mapped, one
declaration at a time, onto the create commands of domain.commands.

A layer of its own above domain and below service (pyproject.toml's import contracts):
`reader.parse_scenario` is the entry point; `yaml_lines` loads the YAML, `items` reads one
mapping at its lines, and `networks`, `services`, `nodes` and `rules` read the sections into the
declarations of domain.scenario. The apply and destroy of a scenario are service/scenario/'s.
"""

from facade.scenario.reader import parse_scenario

__all__ = ["parse_scenario"]
