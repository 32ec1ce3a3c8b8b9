"""A local stand-in for a Teams channel's webhook, so delivery code meets Teams' real rules in tests.

`from tools.teams_sink import TeamsSink` in tests; `python -m tools.teams_sink` as a process.
"""

from tools.teams_sink.server import TeamsSink
from tools.teams_sink.throttle import TEAMS_WINDOWS

__all__ = ["TEAMS_WINDOWS", "TeamsSink"]
