"""The Ray Tune callback that passes each evaluation to `marl tune`'s progress display. Its own module (imported
only once Ray is known to be installed) so that Ray Tune, which pickles its callbacks with the experiment state,
pickles it by reference: the listener, a live display, stays in this process and out of the pickle."""
from __future__ import annotations

from typing import Any, Callable

from ray import tune

LISTENER: dict[str, Callable[[dict[str, Any]], None]] = {}


class Relay(tune.Callback):
    def on_trial_result(self, iteration, trials, trial, result, **info):
        listener = LISTENER.get("report")
        if listener is not None:
            listener({"event": "report", "trial": result.get("trial"), "env_steps": result.get("env_steps"),
                      "return": result.get("return")})
