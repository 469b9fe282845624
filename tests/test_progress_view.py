"""Progress in a log: piped output (nohup, CI, `| tee`) gets the bar's line as text while the work runs, not only
at the end as rich's live bar would."""
from __future__ import annotations

import io

import yaml
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn
from typer.testing import CliRunner

from advisor.cli import app
from advisor.progress_view import ProgressView

runner = CliRunner()


def _view(every: float) -> tuple[ProgressView, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    return ProgressView(TextColumn("work"), MofNCompleteColumn(), console=console, every=every), out


def test_a_log_gets_a_line_per_interval_and_the_final_state():
    view, out = _view(every=0.0)
    with view:
        task = view.add_task("t", total=4)
        for _ in range(3):
            view.advance(task)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("work")]
    assert lines == ["work 1/4", "work 2/4", "work 3/4", "work 3/4"]  # three while running, rich's final one


def test_a_log_is_not_flooded_and_messages_carry_the_bar():
    view, out = _view(every=3600.0)
    with view:
        task = view.add_task("t", total=4)
        view.advance(task)
        view.note("done: one")
        view.advance(task)
    assert out.getvalue().splitlines() == ["done: one", "work 1/4", "work 2/4"]


def test_a_disabled_view_prints_nothing():
    out = io.StringIO()
    view = ProgressView(TextColumn("work"), console=Console(file=out, force_terminal=False), every=0.0, disable=True)
    with view:
        view.note("done: one")
        view.advance(view.add_task("t", total=2))
    assert out.getvalue() == ""


def test_piped_train_and_benchmark_report_progress_while_running(tmp_path, monkeypatch):
    monkeypatch.setenv("MARL_PROGRESS_EVERY", "0")
    train = runner.invoke(app, ["train", "vdn", "--env", "matrix:climbing", "--steps", "5000", "--out",
                                str(tmp_path / "run")])
    assert train.exit_code == 0, train.output
    assert sum("env steps" in line and "left" in line for line in train.output.splitlines()) >= 3, train.output

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"algorithms": ["vdn"], "envs": ["matrix:climbing"], "seeds": [0, 1],
                                    "steps": 200}))
    bench = runner.invoke(app, ["benchmark", str(spec), "--out", str(tmp_path / "bench")])
    assert bench.exit_code == 0, bench.output
    done = [line for line in bench.output.splitlines() if line.startswith("done: vdn / climbing / seed")]
    assert len(done) == 2 and all("return per agent" in line for line in done), bench.output


def test_a_bad_interval_is_named_and_the_default_kept(monkeypatch, capsys):
    from advisor.progress_view import LOG_EVERY_S

    for bad in ("soon", "nan", "-5"):
        monkeypatch.setenv("MARL_PROGRESS_EVERY", bad)
        view = ProgressView(TextColumn("work"), console=Console(file=io.StringIO(), force_terminal=False))
        assert view.every == LOG_EVERY_S
        assert f"MARL_PROGRESS_EVERY={bad} is not a number of seconds" in capsys.readouterr().err
    monkeypatch.setenv("MARL_PROGRESS_EVERY", "2.5")
    assert ProgressView(TextColumn("work"), console=Console(file=io.StringIO())).every == 2.5
