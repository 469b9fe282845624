"""`algorithms.envs.silent_speaker_listener:silent_speaker_listener`: mpe2's simple_speaker_listener_v4 with the
listener deaf to the speaker's env message, so the goal can only travel through a learnt channel (CommNet's)."""
from __future__ import annotations

from pettingzoo.utils.wrappers import BaseParallelWrapper


class _Deaf(BaseParallelWrapper):
    """Zeroes the listener's view of the speaker's env message (the last 3 entries of its observation)."""

    def _deafen(self, observations: dict) -> dict:
        if "listener_0" in observations:
            observations["listener_0"] = observations["listener_0"].copy()
            observations["listener_0"][-3:] = 0.0
        return observations

    def reset(self, seed=None, options=None):
        observations, infos = self.env.reset(seed=seed, options=options)
        return self._deafen(observations), infos

    def step(self, actions):
        observations, *rest = self.env.step(actions)
        return (self._deafen(observations), *rest)

    def state(self):
        return self.env.state()


def silent_speaker_listener(**kwargs) -> _Deaf:
    """`algorithms.envs.silent_speaker_listener:silent_speaker_listener`: mpe2 simple_speaker_listener_v4 with the listener deaf
    to the speaker's env message, so the goal can only travel through a learnt channel."""
    from mpe2 import simple_speaker_listener_v4

    return _Deaf(simple_speaker_listener_v4.parallel_env(**kwargs))
