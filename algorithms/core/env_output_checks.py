"""Checks of what a PettingZoo env returns, where it enters the library: mixins of the K-copy VecEnv and its per-copy
adapters (core/pettingzoo_vec_env.py). The checks on every step are cheap: one np.isfinite over each stacked batch
array (rewards, observations, state), the row writers' size and mask-length comparisons (core/observation_rows.py)
and the fast path's one size test. Only once one fails is the batch searched, agent by agent, for what was wrong;
the EnvOutputError then names the env, the copy, the agent, the method, the step and the episode."""
from __future__ import annotations

import numpy as np

from algorithms.core.observation_rows import observation_problem, space_summary, write_obs
from algorithms.errors import BadEnvOutput, EnvOutputError


class AdapterChecks:
    """For one env copy's adapter: it has `info`, `index`, `copy`, `at` ((method, step) being read), `episodes`
    and `_blank()`."""

    def _output_error(self, problem: str, agent: str | None = None, method: str | None = None) -> EnvOutputError:
        called, step = self.at
        return EnvOutputError(self.info.env_id, method or called, step, problem, self.copy, agent, self.episodes)

    def _checked_state(self, raw) -> np.ndarray:
        """The env's state() as a flat float32 array of the size the first one had."""
        try:
            state = np.asarray(raw, np.float32).reshape(-1)
        except (TypeError, ValueError) as err:
            raise self._output_error(f"a state that is not an array of numbers ({err})", method="state") from None
        if state.size != self.info.state_dim:
            raise self._output_error(f"a state of {state.size} values where the first had {self.info.state_dim}",
                                     method="state")
        return state

    def _bad_rows(self, observations: dict, infos: dict, err: Exception) -> EnvOutputError:
        """The rows of a step could not be built (the fast path's one reshape, or an agent's row): find the agent
        whose observation or action mask does not fit its declared space, and say what is wrong with it."""
        obs, mask = self._blank()
        for agent, raw in observations.items():
            if agent not in self.index:
                return self._output_error(f"an observation for '{agent}', which is not in possible_agents")
            i = self.index[agent]
            problem = observation_problem(self.info, i, raw)
            if problem is None:
                try:
                    write_obs(self.info, i, raw, obs, mask, infos.get(agent))
                except (ValueError, TypeError, KeyError, IndexError) as bad:
                    problem = bad.problem if isinstance(bad, BadEnvOutput) else (
                        f"an observation that does not fit its space {space_summary(self.info.obs_spaces[i])} "
                        f"({type(bad).__name__}: {bad})")
            if problem is not None:
                return self._output_error(problem, agent)
        return self._output_error(f"observations that could not be made into rows ({type(err).__name__}: {err})")

    def _bad_reward(self, rewards: dict, agents: list) -> EnvOutputError:
        """A step's rewards could not be read as numbers: name the agent whose reward is not one."""
        for agent in agents:
            value = rewards.get(agent, 0.0)
            try:
                ok = np.ndim(value) == 0 and np.asarray(value, np.float32) is not None
            except (TypeError, ValueError):
                ok = False
            if not ok:
                return self._output_error(f"a reward of {value!r} (a {type(value).__name__}), not a number", agent)
        return self._output_error(f"rewards that are not numbers ({rewards!r})")


class BatchChecks:
    """For the K-copy VecEnv: it has `env_id`, `info` and `copies` (adapters with `length`, `episodes`, `copy`,
    `state_from_obs`)."""

    def _check_finite(self, arrays: tuple, ends: np.ndarray | None = None, finished: list | None = None) -> None:
        """Every reward, observation and state of the batch is finite: one np.isfinite over each stacked array (a
        few microseconds a step; integer images are finite by type). Only when one is not are the copies searched
        for the culprit. `arrays`: (reward, obs, state[, final_obs, final_state]); `ends` None after reset()."""
        for values in arrays:
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                raise self._non_finite(arrays, ends, finished or [])

    def _non_finite(self, arrays: tuple, ends: np.ndarray | None, finished: list) -> EnvOutputError:
        """The EnvOutputError for the first non-finite value: its copy, agent, method, step and episode."""
        lengths = {k: length for k, _, length in finished}
        named = dict(zip(("reward", "observation", "state", "final observation", "final state"), arrays))
        for which in ("reward", "final observation", "final state", "observation", "state"):  # in the order made
            values = named.get(which)
            if values is None:
                continue
            bad = ~np.isfinite(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
            if not bad.any():
                continue
            where = tuple(int(x) for x in np.argwhere(bad)[0])
            k, copy, value = where[0], self.copies[where[0]], float(values[where])
            kind = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
            ended = ends is not None and bool(ends[k])
            if which in ("observation", "state") and (ends is None or ended):  # the first rows of an episode
                method, step, episode = "reset", 0, copy.episodes
            elif ended:  # the episode's last step; the copy has been reset since
                method, step, episode = "step", lengths[k], copy.episodes - 1
            else:
                method, step, episode = "step", copy.length, copy.episodes
            if which == "reward":
                problem, agent = f"a {kind} reward", self.info.agents[where[1]]
            elif which.endswith("observation"):
                agent = self.info.agents[where[1]]
                problem = f"an observation with {kind} at position {where[2]} of {self.info.obs_sizes[where[1]]}"
            else:
                problem, agent = f"a state with {kind} at position {where[1]} of {self.info.state_dim}", None
                method = method if copy.state_from_obs else "state"  # read from the env's own state()
            return EnvOutputError(self.env_id, method, step, problem, copy.copy, agent, episode)
        raise AssertionError("called without a non-finite value")
