"""Pickling PettingZoo env copies mid-episode for checkpoints (PettingZooVecEnv.snapshot / restore,
core/pettingzoo_vec_env.py, which re-exports these names: snapshots written before this module existed name them
there)."""
from __future__ import annotations

import pickle
import sys

from gymnasium.utils import EzPickle


class _StatePickler(pickle.Pickler):
    """Pickles EzPickle objects (PettingZoo and Gymnasium envs) by their attributes: EzPickle's own
    pickling stores only the constructor arguments, which would silently restart every episode."""

    def reducer_override(self, obj):
        if isinstance(obj, EzPickle):
            return _blank_instance, (type(obj),), dict(obj.__dict__), None, None, _set_attributes
        pygame = sys.modules.get("pygame")
        if pygame is not None:  # render canvases and fonts: rebuilt empty, they are redrawn every frame
            if isinstance(obj, pygame.Surface):
                return pygame.Surface, (obj.get_size(),)
            freetype = sys.modules.get("pygame.freetype")
            if freetype is not None and isinstance(obj, freetype.Font):
                try:
                    return _font, (obj.path, obj.size)
                except pygame.error:  # closing any MPE env calls pygame.quit(), which kills every live font
                    return _no_font, ()
        return NotImplemented


def _font(path: str, size: int):
    import pygame.freetype

    pygame.freetype.init()
    return pygame.freetype.Font(path, size)


def _no_font():
    return None  # a font pygame had already invalidated: the training copies never render


def _blank_instance(cls):
    return cls.__new__(cls)


def _set_attributes(obj, state: dict) -> None:
    obj.__dict__.update(state)
