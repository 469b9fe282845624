"""Child of benchmarks/benchmarl_compare.py: BenchMARL's MAPPO on PettingZoo simple_spread for a wall-clock budget.

Runs under `.venv-benchmarl/bin/python`, never under the project's venv: it imports nothing from this repository,
and nothing in this repository imports it. Writes one JSON object (frames, seconds, per-agent return, versions)
to --out.

    .venv-benchmarl/bin/python benchmarks/_benchmarl_run.py --seconds 300 --seed 0 --out result.json

PettingZoo 1.26+ no longer ships MPE (`pettingzoo.mpe` only raises an ImportError pointing at `mpe2`), while
torchrl's PettingZoo wrapper still looks for it in two places: `pettingzoo.utils.all_modules.all_environments`
(imported at every env construction; PettingZoo 1.27's dict has no MPE entries, so `simple_spread_v3` is "not in
available environments") and, only if that import fails, `pettingzoo.mpe.all_modules.mpe_environments`.
(With the pinned packages the first import fails, as PettingZoo's Atari module needs `multi_agent_ale_py`, so
torchrl takes the second path; the first is covered in case it ever succeeds.) `alias_mpe()` covers both: it
registers `mpe2` as `pettingzoo.mpe` (and `mpe2.all_modules`, `mpe2.simple_spread_v3`, ... as
`pettingzoo.mpe.all_modules`, `pettingzoo.mpe.simple_spread_v3`, ...) in sys.modules, then adds mpe2's `mpe/...`
entries to PettingZoo's `all_environments` dict in place. It runs before torchrl or benchmarl is imported.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import tempfile
import time


def alias_mpe() -> None:
    import mpe2
    import mpe2.all_modules
    import pettingzoo

    sys.modules["pettingzoo.mpe"] = mpe2
    sys.modules["pettingzoo.mpe.all_modules"] = mpe2.all_modules
    pettingzoo.mpe = mpe2
    for key, module in mpe2.all_modules.mpe_environments.items():  # "mpe/simple_spread_v3": mpe2.simple_spread_v3
        sys.modules["pettingzoo.mpe." + key.split("/", 1)[1]] = module
    try:
        from pettingzoo.utils.all_modules import all_environments
    except ModuleNotFoundError:  # torchrl then falls back to pettingzoo.mpe.all_modules, aliased above
        return
    all_environments.update(mpe2.all_modules.mpe_environments)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=64, help="final evaluation episodes")
    parser.add_argument("--max-cycles", type=int, default=25)
    parser.add_argument("--continuous", action="store_true",
                        help="keep BenchMARL's prefer_continuous_actions=True (default here: discrete actions)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    alias_mpe()
    import torch
    from benchmarl.algorithms import MappoConfig
    from benchmarl.environments import PettingZooTask
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models.mlp import MlpConfig

    torch.set_num_threads(args.threads)

    class BudgetSpent(Exception):
        pass

    class TimedExperiment(Experiment):
        """Stops after the training iteration during which the budget ran out, then evaluates once."""

        deadline = float("inf")
        train_seconds = 0.0
        final_rollouts = None

        def _on_train_end(self, training_td, group):
            super()._on_train_end(training_td, group)
            if time.perf_counter() >= self.deadline and group == list(self.train_group_map)[-1]:
                raise BudgetSpent

        def _on_evaluation_end(self, rollouts):
            super()._on_evaluation_end(rollouts)
            self.final_rollouts = rollouts

        def run_for(self, seconds: float) -> None:
            from benchmarl.utils import seed_everything

            seed_everything(self.seed)
            start = time.perf_counter()
            self.deadline = start + seconds
            try:
                self._collection_loop()  # finishes (and closes) only if max_n_frames were reached first
            except BudgetSpent:
                pass
            self.train_seconds = time.perf_counter() - start
            self._evaluation_loop()
            self.close()

    task = PettingZooTask.SIMPLE_SPREAD.get_from_yaml()  # N 3, local_ratio 0.5, max_cycles 100
    task_defaults = dict(task.config)
    task.config["max_cycles"] = args.max_cycles
    algorithm = MappoConfig.get_from_yaml()
    model = MlpConfig.get_from_yaml()
    critic_model = MlpConfig.get_from_yaml()
    config = ExperimentConfig.get_from_yaml()
    config.sampling_device = config.train_device = config.buffer_device = "cpu"
    config.prefer_continuous_actions = args.continuous
    config.max_n_frames = 10 ** 12  # the wall-clock budget stops it
    config.max_n_iters = None
    config.evaluation = False  # no evaluation inside the budget; one at the end, outside it
    config.evaluation_episodes = args.episodes
    config.evaluation_static = True  # seeds the evaluation env with the experiment seed
    config.render = False
    config.loggers = []
    config.create_json = False
    config.checkpoint_interval = 0
    config.checkpoint_at_end = False
    with tempfile.TemporaryDirectory() as folder:
        config.save_folder = folder
        experiment = TimedExperiment(task=task, algorithm_config=algorithm, model_config=model,
                                     critic_model_config=critic_model, seed=args.seed, config=config)
        groups = {group: list(agents) for group, agents in experiment.group_map.items()}
        experiment.run_for(args.seconds)

    rollouts = experiment.final_rollouts
    # Exactly BenchMARL's own eval/reward/episode_reward_mean (Logger.log_evaluation): per episode, the reward of
    # each agent summed over time, then the mean over the agents of the group, then over groups and episodes.
    returns, lengths = [], []
    for td in rollouts:
        per_group = [td.get(("next", group, "reward")).sum(0).mean().item() for group in groups]
        returns.append(sum(per_group) / len(per_group))
        lengths.append(td.batch_size[0])
    result = {
        "system": "BenchMARL MAPPO",
        "frames": experiment.total_frames,
        "iterations": experiment.total_frames // config.collected_frames_per_batch(True),
        "train_seconds": experiment.train_seconds,
        "frames_per_s": experiment.total_frames / max(experiment.train_seconds, 1e-9),
        "return_mean": sum(returns) / len(returns),
        "episodes": len(returns),
        "episode_len_mean": sum(lengths) / len(lengths),
        "groups": groups,
        "continuous_actions": experiment.continuous_actions,
        "task_config": dict(task.config),
        "task_defaults": task_defaults,
        "frames_per_batch": config.collected_frames_per_batch(True),
        "versions": {name: importlib.metadata.version(name)
                     for name in ("benchmarl", "torchrl", "tensordict", "torch", "pettingzoo", "mpe2")},
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
