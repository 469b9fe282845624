"""The interview: ask only what is still unknown and relevant, in facts.yaml order.

`interview` is the loop (which fact next, contradictions re-asked); the asking itself is a function
passed in, so tests can drive the loop directly and the CLI passes `RichAsker`, which shows help on
'?', re-asks on a wrong value and never waits forever (end of input is an error).
"""
from __future__ import annotations

from typing import Callable, Mapping

from rich.console import Console
from rich.markup import escape

from advisor.engine import check_constraints, is_relevant
from advisor.errors import AdvisorError
from advisor.facts import Fact, FactValue
from advisor.ruleset import RuleSet

# ask(fact, suggested value or None) -> the answer
Ask = Callable[[Fact, "FactValue | None"], FactValue]


def next_fact(values: Mapping[str, FactValue], ruleset: RuleSet) -> Fact | None:
    """The first fact that is relevant now and still needs an answer (detected ones need a confirmation)."""
    for fact in ruleset.facts.values():
        if fact.optional or fact.id in values:
            continue  # optional facts are never asked: flags, files and --env set them
        if is_relevant(fact.id, values, ruleset) is True:
            return fact
    return None


def interview(given: Mapping[str, FactValue], ruleset: RuleSet, ask: Ask,
              detected: Mapping[str, FactValue] | None = None,
              on_error: Callable[[AdvisorError], None] | None = None) -> dict[str, FactValue]:
    """Complete `given` by asking; detected values are offered for confirmation, not assumed.

    Returns every answer: given, asked, and detected ones that were never asked (optional facts such
    as global_state, or facts irrelevant to the path taken).
    """
    detected = dict(detected or {})
    values = dict(given)
    while (fact := next_fact(values, ruleset)) is not None:
        values[fact.id] = ask(fact, detected.get(fact.id))
        try:
            check_constraints(values, ruleset)
        except AdvisorError as err:  # the latest answer contradicts an earlier one: ask it again
            del values[fact.id]
            detected.pop(fact.id, None)
            if on_error is None:
                raise
            on_error(err)
    return {**detected, **values}


class RichAsker:
    """Ask one fact with a rich prompt: '?' prints the help, a wrong value is explained and re-asked."""

    def __init__(self, console: Console, max_attempts: int = 20):
        self.console = console
        self.max_attempts = max_attempts  # a script feeding endless wrong input still ends
        self.asked: list[str] = []

    def __call__(self, fact: Fact, suggested: FactValue | None) -> FactValue:
        self.asked.append(fact.id)
        for _ in range(self.max_attempts):
            try:
                raw = self.console.input(self._prompt(fact, suggested)).strip()
            except EOFError:
                raise AdvisorError("no-input", f"input ended before '{fact.id}' was answered",
                                   f"pass --{fact.id.replace('_', '-')} or an --answers file") from None
            if raw == "?":
                self.console.print(f"  [dim]{fact.help}[/]")
                continue
            if raw == "" and suggested is not None:
                return suggested
            if raw == "":
                self.console.print(f"  [yellow]please answer with {fact.describe()} (or ? for help)[/]")
                continue
            try:
                return fact.parse(raw)
            except AdvisorError as err:
                self.console.print(f"  [yellow]{escape(err.message)}[/] - try again, or ? for help")
        raise AdvisorError("no-input", f"no valid answer for '{fact.id}' after {self.max_attempts} attempts")

    def report(self, error: AdvisorError) -> None:
        self.console.print(f"  [yellow]{escape(error.message)}[/] - please answer again")

    @staticmethod
    def _prompt(fact: Fact, suggested: FactValue | None) -> str:
        if fact.type == "bool":
            options = "y/n"
        elif fact.type == "choice":
            options = "/".join(fact.choices)
        else:
            options = fact.describe()
        hint = ""
        if suggested is not None:
            shown = ("yes" if suggested else "no") if isinstance(suggested, bool) else suggested
            hint = f" [green](detected: {shown}; Enter keeps it)[/]"
        return f"[bold]{fact.prompt}[/] [cyan]\\[{options}, ?][/]{hint} "
