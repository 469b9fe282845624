"""Image-observation preprocessing as env options: `--env-kwarg obs_resize=84x84`, `obs_grayscale=true`,
`obs_frame_stack=4` (also `env_kwargs` in the Python API). The registry takes these keys out before the env is
built and wraps the env in `ImagePreprocess`; everything else about the env stays as it is.

Pixels stay uint8 through the wrapper (the network scales them to [0, 1]). A state() that is an image is resized
and converted the same way (not stacked), so a centralised critic reads a state of a workable size."""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces
from PIL import Image
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import MARLError

OPTIONS = ("obs_resize", "obs_grayscale", "obs_frame_stack")


def split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the env's own keyword arguments, the image options among them)."""
    return ({k: v for k, v in kwargs.items() if k not in OPTIONS}, {k: v for k, v in kwargs.items() if k in OPTIONS})


def parse_options(env_id: str, options: dict[str, Any]) -> tuple[tuple[int, int] | None, bool, int]:
    """(height, width) or None, grayscale, frames to stack; MARLError for values that cannot work."""
    size = options.get("obs_resize")
    if size is not None:
        try:
            height, width = (int(v) for v in str(size).lower().split("x"))
            assert height > 0 and width > 0
        except (ValueError, AssertionError):
            raise MARLError("bad-env-kwarg", f"'{env_id}': obs_resize={size!r} is not HEIGHTxWIDTH",
                            "e.g. --env-kwarg obs_resize=84x84") from None
        size = (height, width)
    gray = options.get("obs_grayscale", False)
    stack = options.get("obs_frame_stack", 1)
    if not isinstance(gray, bool):
        raise MARLError("bad-env-kwarg", f"'{env_id}': obs_grayscale={gray!r} is not true or false")
    if not isinstance(stack, int) or isinstance(stack, bool) or stack < 1:
        raise MARLError("bad-env-kwarg", f"'{env_id}': obs_frame_stack={stack!r} must be an integer >= 1")
    return size, gray, stack


def transform(image: np.ndarray, size: tuple[int, int] | None, gray: bool) -> np.ndarray:
    """One HxW(xC) image -> resized and/or grayscale, uint8, channels last (HxWx1 when gray)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    picture = Image.fromarray(image if image.ndim == 2 or image.shape[-1] in (3, 4) else image[..., 0])
    if gray:
        picture = picture.convert("L")
    if size is not None:
        picture = picture.resize((size[1], size[0]), Image.BILINEAR)
    out = np.asarray(picture, np.uint8)
    return out[..., None] if out.ndim == 2 else out


class ImagePreprocess(ParallelEnv):
    """A ParallelEnv whose image observations (HxWxC Boxes) are resized, grayscaled and frame-stacked."""

    def __init__(self, env: ParallelEnv, env_id: str, size: tuple[int, int] | None, gray: bool, stack: int):
        first = env.observation_space(env.possible_agents[0])
        if not (isinstance(first, spaces.Box) and len(first.shape) in (2, 3)):
            raise MARLError("bad-env-kwarg", f"'{env_id}' does not observe images ({first}), so obs_resize, "
                            "obs_grayscale and obs_frame_stack do not apply")
        self.env, self.size, self.gray, self.stack = env, size, gray, stack
        self.possible_agents = list(env.possible_agents)
        self.metadata = getattr(env, "metadata", {})
        self.render_mode = getattr(env, "render_mode", None)
        sample = transform(np.zeros(first.shape, np.uint8), size, gray)
        shape = (*sample.shape[:2], sample.shape[2] * stack)
        self.spaces = {a: spaces.Box(0, 255, shape, np.uint8) for a in self.possible_agents}
        self.frames: dict[str, deque] = {}

    @property
    def agents(self) -> list[str]:
        return self.env.agents

    @property
    def unwrapped(self):
        return self.env.unwrapped

    def observation_space(self, agent: str) -> spaces.Space:
        return self.spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space(agent)

    def _observe(self, observations: dict, fresh: bool) -> dict:
        out = {}
        for agent, raw in observations.items():
            frame = transform(raw, self.size, self.gray)
            if fresh or agent not in self.frames:  # a new episode (or agent) starts with its first frame repeated
                self.frames[agent] = deque([frame] * self.stack, maxlen=self.stack)
            else:
                self.frames[agent].append(frame)
            out[agent] = np.concatenate(self.frames[agent], axis=-1)
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        self.frames = {}
        return self._observe(observations, fresh=True), infos

    def step(self, actions: dict):
        observations, rewards, terms, truncs, infos = self.env.step(actions)
        return self._observe(observations, fresh=False), rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        state = np.asarray(self.env.state())
        return transform(state, self.size, self.gray) if state.ndim == 3 else state

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()
