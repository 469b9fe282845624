"""Episode statistics reported by every algorithm, under the same metric names."""
from __future__ import annotations

import numpy as np


def episode_metrics(finished: list[tuple[int, np.ndarray, int]], agents: tuple[str, ...]) -> dict[str, float]:
    """Mean per-agent return (and each agent's) over the episodes that ended; NaN when none did."""
    if not finished:
        return {"charts/return_mean": float("nan"), "charts/episode_length": float("nan"),
                **{f"charts/return/{a}": float("nan") for a in agents}}
    returns = np.stack([r for _, r, _ in finished])  # [episodes, N]
    return {"charts/return_mean": float(returns.mean()),
            "charts/episode_length": float(np.mean([length for _, _, length in finished])),
            **{f"charts/return/{a}": float(returns[:, i].mean()) for i, a in enumerate(agents)}}


def team_returns(returns: np.ndarray, agents: tuple[str, ...], teams: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Each team's per-episode return, the mean over its members: returns [episodes, N] -> {team: [episodes]}."""
    index = {a: i for i, a in enumerate(agents)}
    return {t: returns[:, [index[a] for a in members]].mean(axis=1) for t, members in teams.items()}
