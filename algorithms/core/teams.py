"""Teams of agents: which agents share a critic, a reward or a network, from a short spec string."""
from __future__ import annotations

import fnmatch

from algorithms.errors import MARLError


def resolve_teams(spec: str, agents: tuple[str, ...]) -> tuple[list[int], list[str]]:
    """Team index of every agent and the team names. '' -> every agent alone; 'auto' -> by the name before
    the last '_'; 'a_*;b_*' -> fnmatch patterns, first match wins, unmatched agents stay alone."""
    spec = spec.strip()
    if not spec:
        keys = list(agents)
    elif spec == "auto":
        keys = [a.rsplit("_", 1)[0] for a in agents]
    else:
        patterns = [p.strip() for p in spec.split(";") if p.strip()]
        for p in patterns:
            if not any(fnmatch.fnmatchcase(a, p) for a in agents):
                raise MARLError("bad-config-value", f"teams: pattern '{p}' matches no agent",
                                   f"agents: {', '.join(agents)}; e.g. teams='adversary_*;agent_*' or teams=auto")
        keys = [next((p for p in patterns if fnmatch.fnmatchcase(a, p)), a) for a in agents]
    names = list(dict.fromkeys(keys))  # first-appearance order
    return [names.index(k) for k in keys], names
