"""The `marl` command: registers one command per module in advisor/commands, nothing else."""
import typer

from advisor.console import DEBUG
from advisor.commands import (advise_cmd, algorithms_cmd, benchmark_cmd, check_cmd, compare_cmd, credit_cmd, eval_cmd,
                             inspect_cmd, plot_cmd, race_cmd, report_cmd, rules_cmd, scaffold_cmd, train_cmd, tune_cmd)

app = typer.Typer(
    name="marl",
    help="MARL Advisor: recommend a multi-agent RL algorithm, scaffold it, and train it on PettingZoo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show the full traceback of any failure "
                                                             "(otherwise one message and an exit code).")) -> None:
    """MARL Advisor: recommend a multi-agent RL algorithm, scaffold it, and train it on PettingZoo."""
    DEBUG["on"] = debug


app.command("train")(train_cmd.train)
app.command("eval")(eval_cmd.evaluate)
app.command("algorithms")(algorithms_cmd.algorithms)
app.command("advise")(advise_cmd.advise)
app.command("inspect")(inspect_cmd.inspect_env)
app.add_typer(rules_cmd.app, name="rules")
app.command("scaffold")(scaffold_cmd.scaffold)
app.command("plot")(plot_cmd.plot)
app.command("compare")(compare_cmd.compare)
app.command("benchmark")(benchmark_cmd.benchmark)
app.command("report")(report_cmd.report)
app.command("tune")(tune_cmd.tune)
app.command("check")(check_cmd.check)
app.command("credit")(credit_cmd.credit)
app.command("race")(race_cmd.race)

if __name__ == "__main__":
    app()
