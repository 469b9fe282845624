"""Turn results into output: plain dicts for --json, rich renderables for people.

Covers a Recommendation (decision path tree, ranking table, exclusions, pitfalls, next commands),
an environment Inspection, the rule files (`marl rules show`) and a rules check report.
"""
from __future__ import annotations

from typing import Any, Mapping

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from advisor.check import CheckReport
from advisor.engine import Recommendation
from advisor.inspect import Inspection
from advisor.conditions import describe_condition
from advisor.ruleset import RuleSet

ENV_PLACEHOLDER = "<env>"  # e.g. mpe2:simple_spread_v3


def bundled_algorithms(rs: RuleSet, registry: Mapping[str, Any] | None) -> set[str]:
    """Ids `marl train` can run: the registry when importable, else the catalogue's bundled flags."""
    if registry is not None:
        return set(registry)
    return {a for a, info in rs.algorithms.items() if info.bundled}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# ---------------------------------------------------------------------------------------------------
# Recommendation


def next_steps(rec: Recommendation, rs: RuleSet, bundled: set[str], env_args: str | None,
               native: str | None = None) -> dict[str, Any]:
    """The commands to run next, and a note when the recommended algorithm is not bundled yet. `native`: an env
    with the same dynamics on a natively batched backend, which the train command then uses (and says so)."""
    env = env_args or ENV_PLACEHOLDER
    given = env.split()[0]  # the env id, before its --env-kwarg options
    train_env = f"{native}{env[len(given):]}" if native else env
    backend = (f"The train command uses {native}: {given}'s dynamics bit for bit, every copy stepped at once "
               f"(faster); --env {given} trains the same task on PettingZoo copies." if native else None)
    algo = rec.algorithm
    if algo in bundled:
        commands = [f"marl scaffold {algo} --env {env}", _train_command(rs, algo, train_env)]
        return {"bundled": True, "commands": commands, "note": backend}
    name = rs.algorithms[algo].name
    fallback = next((r.algorithm for r in rec.alternatives if r.algorithm in bundled), None)
    note = f"{name} ({algo}) is not bundled yet, so `marl train {algo}` cannot run it."
    commands = []
    if fallback:
        note += f" The best-ranked bundled alternative is {rs.algorithms[fallback].name} ({fallback})."
        commands = [_train_command(rs, fallback, train_env)]
        note += f" {backend}" if backend else ""
    else:
        note += " No bundled algorithm fits these answers; `marl algorithms` lists what is bundled."
    return {"bundled": False, "commands": commands, "note": note, "fallback": fallback}


def _train_command(rs: RuleSet, algo: str, env: str) -> str:
    """`marl train` with the settings the catalogue measured for `algo` (its `train` block)."""
    return " ".join((f"marl train {algo} --env {env}", *rs.algorithms[algo].train))


def recommendation_to_dict(rec: Recommendation, rs: RuleSet, bundled: set[str]) -> dict[str, Any]:
    def reasons(items) -> list[dict[str, Any]]:
        return [{"rule": r.rule, "score": r.delta, "because": r.because} for r in items]

    return {
        "algorithm": rec.algorithm,
        "name": rs.algorithms[rec.algorithm].name,
        "paper": rs.algorithms[rec.algorithm].paper,
        "bundled": rec.algorithm in bundled,
        "score": rec.score,
        "reasons": reasons(rec.reasons),
        "alternatives": [{"algorithm": r.algorithm, "name": rs.algorithms[r.algorithm].name, "score": r.score,
                          "bundled": r.algorithm in bundled, "reasons": reasons(r.reasons)}
                         for r in rec.alternatives],
        "excluded": [{"algorithm": e.algorithm, "reasons": [{"rule": x.rule, "condition": x.condition,
                                                             "because": x.because} for x in e.reasons]}
                     for e in rec.excluded],
        "pitfalls": [{"id": p.id, "title": p.title, "advice": p.advice, "rationalization": p.rationalization,
                      "refs": list(p.refs)} for p in rec.pitfalls],
        "path": [{"node": s.node, "question": s.question, "fact": s.fact, "value": s.value, "next": s.goes_to}
                 for s in rec.path],
        "leaf": rec.leaf,
        "early_exit": rec.early_exit,
        "trace": [{"stage": t.stage, "rule": t.rule, "fired": t.fired, "effect": t.effect, "because": t.because,
                   "refs": list(t.refs), "conditions": t.conditions.to_dict() if t.conditions else None}
                  for t in rec.trace],
        "answers": dict(rec.answers),
        "assumed": list(rec.assumed),
        "ignored": dict(rec.ignored),
        "tied": list(rec.tied),
    }


def render_recommendation(rec: Recommendation, rs: RuleSet, bundled: set[str],
                          sources: Mapping[str, str] | None = None) -> RenderableType:
    """Everything but the next commands (render_next_steps), which are printed unwrapped."""
    info = rs.algorithms[rec.algorithm]
    status = "[green]bundled[/]" if rec.algorithm in bundled else "[yellow]not bundled yet[/]"
    header = Panel(f"[bold]{info.name}[/] ([cyan]{rec.algorithm}[/]), {status}\n{info.summary}\n[dim]{info.paper}[/]",
                   title="Recommendation", title_align="left", border_style="green")
    parts: list[RenderableType] = [header, _path_tree(rec, rs)]
    if not rec.early_exit:
        parts.append(_ranking_table(rec, rs, bundled))
    if rec.excluded:
        parts.append(_excluded_table(rec, rs))
    if rec.pitfalls:
        parts.append(_pitfalls_table(rec))
    parts.append(_answers_table(rec, sources or {}))
    return Group(*parts)


def _path_tree(rec: Recommendation, rs: RuleSet) -> Tree:
    tree = Tree("[bold]Decision path[/]")
    branch = tree
    for step in rec.path:
        branch = branch.add(f"{step.question} [cyan]{step.fact} = {_show(step.value)}[/]")
    leaf = rs.leaves[rec.leaf]
    exit_note = " (early exit)" if leaf.final else ""
    node = branch.add(f"[bold]leaf {leaf.id}[/]{exit_note}: {leaf.because}")
    for firing in rec.trace:
        if firing.stage == "matrix" and firing.fired:
            node.add(f"[green]rule {firing.rule}[/]: {firing.effect} [dim]- {firing.because}[/]")
    node.add(f"[bold green]-> {rec.algorithm}[/] (score {rec.score:g})")
    return tree


def _ranking_table(rec: Recommendation, rs: RuleSet, bundled: set[str]) -> Table:
    table = Table(title="Ranking", title_justify="left")
    for column in ("#", "algorithm", "score", "bundled", "why"):
        table.add_column(column, overflow="fold")
    rows = [(rec.algorithm, rec.score, rec.reasons)] + [(r.algorithm, r.score, r.reasons) for r in rec.alternatives]
    for rank, (algo, score, reasons) in enumerate(rows, 1):
        why = "; ".join(f"{r.rule} {r.delta:+g}" for r in reasons if r.delta) or "-"
        style = "bold green" if rank == 1 else ""
        table.add_row(str(rank), f"{algo} ({rs.algorithms[algo].name})", f"{score:g}",
                      "yes" if algo in bundled else "no", why, style=style)
    return table


def _excluded_table(rec: Recommendation, rs: RuleSet) -> Table:
    table = Table(title="Excluded", title_justify="left")
    for column in ("algorithm", "ruled out by", "condition", "because"):
        table.add_column(column, overflow="fold")
    for item in rec.excluded:
        for reason in item.reasons:
            table.add_row(item.algorithm, reason.rule, reason.condition, reason.because)
    return table


def _pitfalls_table(rec: Recommendation) -> Table:
    table = Table(title="Pitfalls to watch", title_justify="left", show_lines=True)
    table.add_column("pitfall", style="bold yellow", ratio=1, overflow="fold")
    table.add_column("what to do", ratio=3, overflow="fold")
    for pitfall in rec.pitfalls:
        advice = Text(pitfall.advice)
        if pitfall.rationalization:
            advice.append(f"\nWatch for the thought {pitfall.rationalization}.", style="dim")
        table.add_row(pitfall.title, advice)
    return table


def _answers_table(rec: Recommendation, sources: Mapping[str, str]) -> Table:
    table = Table(title="Answers used", title_justify="left")
    for column in ("fact", "value", "from"):
        table.add_column(column)
    for fact, value in rec.answers.items():
        source = "default (assumed)" if fact in rec.assumed else sources.get(fact, "")
        table.add_row(fact, _show(value), source)
    for fact, value in rec.ignored.items():
        if sources.get(fact, "").startswith("detected"):
            continue  # the env reports more than this path needs; only what the user gave is worth a note
        table.add_row(f"[dim]{fact}[/]", f"[dim]{_show(value)}[/]", "[dim]ignored: not relevant on this path[/]")
    return table


def render_next_steps(steps: Mapping[str, Any]) -> Group:
    """Plain lines, not a panel: print with soft_wrap=True so commands copy-paste cleanly."""
    lines: list[RenderableType] = [Text("Next", style="bold cyan")]
    if steps.get("note"):
        lines.append(Text(steps["note"], style="yellow"))
    for command in steps["commands"]:
        lines.append(Text(f"  $ {command}", style="bold"))
    if ENV_PLACEHOLDER in "".join(steps["commands"]):
        lines.append(Text(f"  (replace {ENV_PLACEHOLDER} with your environment, e.g. mpe2:simple_spread_v3)",
                          style="dim"))
    return Group(*lines)


# ---------------------------------------------------------------------------------------------------
# Inspection


def render_inspection(insp: Inspection) -> RenderableType:
    ev = insp.evidence
    facts = Table(title=f"Detected facts for {insp.env_id}", title_justify="left")
    for column in ("fact", "value", "evidence"):
        facts.add_column(column, overflow="fold")
    rewards = ev.get("rewards", {})
    why = {
        "n_agents": f"possible_agents: {', '.join(ev['agents'])}",
        "multiple_learners": "a single agent cannot have several learners",
        "action_space": "; ".join(sorted({s["action"] for s in ev["spaces"].values()})),
        "global_state": (f"state() returns shape {ev['state']['shape']}" if ev["state"]["available"]
                         else f"state() raised {ev['state'].get('error')}"),
        "turn_based": ev["turn_based"]["reason"],
        "tabular": ev["tabular"]["reason"],
        "reward_structure": rewards.get("reason", ""),
        "interdependent": "rewards are coupled across agents (shared team terms, constant sum or strong correlation)",
    }
    for fact, value in insp.facts.items():
        facts.add_row(fact, _show(value), escape(why.get(fact, "")))  # env-made text is not markup
    spaces = Table(title="Agents", title_justify="left")
    for column in ("agent", "observation space", "action space", "mean reward/step"):
        spaces.add_column(column, overflow="fold")
    for agent, space in ev["spaces"].items():
        observed = space.get("observation_flat", space["observation"])  # "Tuple(Box(3,), Discrete(4)) -> 7 flat values"
        spaces.add_row(escape(agent), escape(observed), escape(space["action"]),
                       str(rewards.get("mean_per_step", {}).get(agent, "")))
    masks = ev["action_masks"]
    notes = Text()
    notes.append(f"API: {ev['api']}.  Action masks: {'yes, in ' + ', '.join(masks['where']) if masks['present'] else 'none'}.\n")
    notes.append(f"Reward sample: {rewards.get('steps')} steps over {rewards.get('episodes')} episodes of random play "
                 f"({rewards.get('seconds')} s); teams: "
                 + " | ".join(", ".join(team) for team in rewards.get("teams", [])) + ".\n")
    if rewards.get("non_finite_steps"):
        bad = rewards["non_finite_steps"]
        notes.append(f"{bad} step{'s' if bad != 1 else ''} of random play returned NaN or infinite rewards (left out "
                     "above); `marl train` stops at the first\n", style="yellow")
    if "reward_structure" not in insp.facts:
        notes.append(f"Reward structure not detected: {rewards.get('reason', '')}\n", style="yellow")
    return Group(facts, spaces, notes)


# ---------------------------------------------------------------------------------------------------
# Rule files and the rules check


def render_rules(rs: RuleSet) -> RenderableType:
    tree = Tree(f"[bold]Decision tree[/] [dim]({rs.source}/tree.yaml)[/]")

    def add(parent: Tree, node_id: str) -> None:
        node = rs.nodes[node_id]
        for value, (kind, target) in node.branches.items():
            label = f"{node.question} [cyan]{node.fact} = {_show(value)}[/]"
            if kind == "node":
                add(parent.add(label), target)
            else:
                leaf = rs.leaves[target]
                pool = ", ".join(f"{a} {s:g}" for a, s in leaf.pool.items())
                tag = "exit" if leaf.final else "leaf"
                parent.add(f"{label} -> [bold]{tag} {leaf.id}[/]: [green]{pool}[/]")

    add(tree, rs.root)
    matrix = Tree(f"[bold]Selection matrix and preferences[/] [dim]({rs.source}/matrix.yaml)[/]")
    for rule in rs.rules:
        node = matrix.add(f"[bold]{rule.id}[/]")
        node.add(f"[cyan]when[/] {describe_condition(rule.when)}")
        node.add(f"[green]then[/] {rule.effect_text()}")
        node.add(f"[dim]because {rule.because}[/]")
    catalogue = Table(title=f"Catalogue ({rs.source}/algorithms.yaml)", title_justify="left")
    for column in ("id", "name", "actions", "rewards", "policy", "bundled"):
        catalogue.add_column(column, overflow="fold")
    for info in rs.algorithms.values():
        catalogue.add_row(info.id, info.name, "/".join(sorted(info.action_spaces)),
                          "/".join(sorted(info.reward_settings)), info.policy_type, "yes" if info.bundled else "no")
    return Group(tree, matrix, catalogue)


def check_report_to_dict(report: CheckReport) -> dict[str, Any]:
    return {"ok": report.ok, "combinations": report.combinations, "contradictory_skipped": report.contradictory,
            "int_values": {k: list(v) for k, v in report.int_values.items()}, "problems": report.problems,
            "unreachable_rules": report.unreachable_rules, "unreachable_tree": report.unreachable_tree,
            "unused_pitfalls": report.unused_pitfalls, "never_recommended": report.never_recommended,
            "registry_checked": report.registry_checked, "top_counts": dict(report.top_counts.most_common())}


def render_check(report: CheckReport) -> RenderableType:
    text = Text()
    ints = ", ".join(f"{k} in {list(v)}" for k, v in report.int_values.items())
    text.append(f"Rule files valid. Checked {report.combinations} answer combinations ({ints}); "
                f"{report.contradictory} contradictory ones skipped.\n")
    text.append("Catalogue vs algorithms registry: "
                + ("checked.\n" if report.registry_checked else "skipped (the algorithms package is not importable).\n"))
    sections = [("Problems", report.problems), ("Rules that never fire", report.unreachable_rules),
                ("Tree nodes/leaves never reached", report.unreachable_tree),
                ("Pitfalls never shown", report.unused_pitfalls),
                ("Catalogue entries never recommended", report.never_recommended)]
    for title, items in sections:
        if items:
            text.append(f"{title} ({len(items)}):\n", style="bold red")
            for item in items:
                text.append(f"  - {item}\n", style="red")
    counts = Table(title="Top recommendation over all combinations", title_justify="left")
    counts.add_column("algorithm")
    counts.add_column("combinations", justify="right")
    for algo, count in report.top_counts.most_common():
        counts.add_row(algo, str(count))
    verdict = Text("OK: exactly one top recommendation everywhere, every rule reachable." if report.ok
                   else "FAILED: see above.", style="bold green" if report.ok else "bold red")
    return Group(text, counts, verdict)

