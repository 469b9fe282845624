"""`marl algorithms`: the registered algorithms and what they can handle."""
from __future__ import annotations

import json

import typer
from rich.table import Table

from advisor.console import console
from algorithms import ALGORITHMS


def algorithms(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the bundled algorithms with their action spaces, reward settings and training needs."""
    rows = [{"id": e.id, "summary": e.summary, "action_spaces": sorted(e.config_cls.action_spaces),
             "reward_settings": sorted(e.config_cls.reward_settings), "policy_type": e.config_cls.policy_type,
             "needs_state": e.config_cls.needs_state,
             "default_num_envs": dict(zip(("native", "pettingzoo"), e.config_cls.default_num_envs))}
            for e in ALGORITHMS.values()]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Bundled algorithms")
    for column in ("id", "action spaces", "reward settings", "policy", "global state", "copies", "summary"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["id"], ", ".join(r["action_spaces"]), ", ".join(r["reward_settings"]), r["policy_type"],
                      "needed" if r["needs_state"] else "not needed",
                      f"{r['default_num_envs']['native']} / {r['default_num_envs']['pettingzoo']}", r["summary"])
    table.caption = ("copies: the default --num-envs on a native batched backend (batched:) / on PettingZoo envs "
                     "(docs/defaults.md)")
    console.print(table)
