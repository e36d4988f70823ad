# Copyright 2026 The world_model_planner Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""`wmp collect`: seeded exploration episodes from the embedded simulator, written as shards.

Episode i's randomness comes only from (seed, i), so any subset of episodes can be recomputed
alone: workers split the shards between them, an interrupted run resumes where it stopped, and two
runs with one seed write byte-identical shards.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import config as cfgmod
from ..config import (CollectConfig, DistractorPerturbation, Perturbations, RandomizationConfig,
                      SimulationConfig)
from ..paths import file_sha256
from ..robot import shrink_limits
from ..sim.appearance import Appearance
from .exploration import ExplorationPolicy
from .shards import (FORMAT, MANIFEST, VERSION, Dataset, DatasetError, Episode, content_digest,
                     dataset_digest, pack_episodes, write_manifest, write_shard)

log = logging.getLogger(__name__)

EXPLORATION_MARGIN = 0.1  # rad inside the joint limits for random motion


def episode_seed(seed: int, index: int) -> int:
    """Independent, reproducible seed of episode `index` of a collection seeded with `seed`."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def randomized_scene(cfg: RandomizationConfig,
                     rng: np.random.Generator) -> tuple[Appearance, Perturbations]:
    """One episode's look: lights, colours, camera jitter and maybe a moving box.

    The box goes through the same code as the evaluation's distractor, with its place, size,
    colour and speed drawn per episode, so the model learns that things which move on their own
    are not the arm."""
    if not cfg.enabled:
        return Appearance(), Perturbations()

    def jitter(scale: float) -> tuple[float, float, float]:
        return tuple(float(v) for v in rng.uniform(-scale, scale, 3))  # type: ignore[return-value]

    lo, hi = cfg.light_intensity
    look = Appearance(
        light_intensity=float(rng.uniform(lo, hi)),
        light_tint=tuple(1.0 + v for v in jitter(cfg.light_tint)),  # type: ignore[arg-type]
        camera_translation=jitter(cfg.camera_translation),
        camera_rotation_deg=jitter(cfg.camera_rotation_deg),
        hue_shift=float(rng.uniform(-cfg.hue_jitter, cfg.hue_jitter)) % 1.0)
    # Draws for the later options happen only when they are on, so a config without them gives
    # the same episodes as before they existed (the shipped model's data stays reproducible).
    if cfg.key_light_shift > 0:
        look = dataclasses.replace(look, key_light_shift=jitter(cfg.key_light_shift))
    if cfg.floor_tint > 0:
        floor = rng.uniform(1.0 - cfg.floor_tint, 1.0, 3)
        look = dataclasses.replace(look, floor_rgba=(float(floor[0]), float(floor[1]),
                                                     float(floor[2]), 1.0))
    if cfg.distractor_probability <= 0 or rng.uniform() >= cfg.distractor_probability:
        return look, Perturbations()
    rgb = rng.uniform(0.0, 1.0, 3)
    distractor = DistractorPerturbation(
        enabled=True,
        centre=tuple(float(v) for v in rng.uniform(cfg.distractor_low,  # type: ignore[arg-type]
                                                   cfg.distractor_high)),
        radius=float(rng.uniform(0.0, cfg.distractor_radius)),
        period=float(rng.uniform(*cfg.distractor_period)),
        size=float(rng.uniform(*cfg.distractor_size)),
        rgba=(float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0))
    return look, Perturbations(distractor=distractor)


class EpisodeCollector:
    """One simulator and task; turns (seed, index) into an :class:`Episode`."""

    def __init__(self, simulation: SimulationConfig, config: CollectConfig) -> None:
        from ..sim.arm import simulator_for
        from ..sim.cell import workspace_limits
        from ..sim.reach import ReachTask
        from .push_collect import PushCollector

        low, high = config.actuation_delay
        period = simulation.sim.control_period
        if not 0.0 <= low <= high < period:
            raise cfgmod.ConfigError(
                f"actuation_delay {list(config.actuation_delay)} must be [low, high] with "
                f"0 <= low <= high < control_period ({period} s); fix it in the collect config")
        self.simulation = simulation
        self.config = config
        self.sim = simulator_for(simulation)
        robot = self.sim.robot
        self.bound = robot.action_bound(simulation.sim.control_period)
        self.lower, self.upper = robot.limits_with_margin()
        self.explore_lower, self.explore_upper = shrink_limits(*workspace_limits(robot),
                                                               EXPLORATION_MARGIN)
        self.push: Any = None
        if simulation.task == "push":
            self.push = PushCollector(self.sim, simulation, config, self.bound)
        else:
            self.task = ReachTask(self.sim, simulation.reach)

    def episode(self, seed: int, index: int) -> Episode:
        cfg, sim = self.config, self.sim
        rng = np.random.default_rng(seed)
        look, perturbations = randomized_scene(cfg.randomization, rng)
        sim.set_perturbations(perturbations, base=look)
        if self.push is not None:
            obs, goal, act = self.push.start(rng, self.explore_lower, self.explore_upper)
        else:
            start, goal_q = self.task.sample_episode(rng)
            obs = sim.reset(start)
            goal = self.task.make_goal(goal_q)
            policy = ExplorationPolicy(cfg.exploration, self.bound, self.explore_lower,
                                       self.explore_upper, self.task.sample_configuration, rng)
            act = policy.act
        frames = self._run(obs, act, self._delay(seed))
        if self.push is not None:
            return Episode(**frames, goal_qpos=self.push.task.rest_pose,
                           goal_tool=sim.tool_position_at(self.push.task.rest_pose),
                           goal_image=goal.image, goal_object=goal.object_pose, seed=seed,
                           index=index)
        return Episode(**frames, goal_qpos=goal.joints, goal_tool=goal.tool_position,
                       goal_image=goal.image, seed=seed, index=index)

    def _delay(self, seed: int) -> float:
        """How late this episode's commands act. A stream of its own, so episodes without a
        delay stay the same as before the option; whole physics steps, so the delayed and the
        on-time part add up to one period."""
        low, high = self.config.actuation_delay
        if high <= 0:
            return 0.0
        dt = self.simulation.sim.physics_timestep
        return round(np.random.default_rng([seed, 1]).uniform(low, high) / dt) * dt

    def _run(self, obs: Any, act: Callable[..., np.ndarray], delay: float) -> dict[str, Any]:
        """Step the episode with `act` and record every frame (and the object, when pushing)."""
        sim, period = self.sim, self.simulation.sim.control_period
        pushing = self.push is not None
        previous = obs.qpos.copy()  # the arm holds its start pose before the first command
        images, qpos, qvel = [obs.image], [obs.qpos], [obs.qvel]
        tool, stamps = [sim.tool_position()], [obs.stamp]
        objects = [sim.object_pose()] if pushing else []
        actions, commands = [], []
        for _ in range(self.simulation.episode_steps):
            delta = act(obs.qpos, objects[-1]) if pushing else act(obs.qpos)
            command = np.clip(obs.qpos + delta, self.lower, self.upper)
            actions.append(command - obs.qpos)
            commands.append(command)
            if delay > 0:
                sim.advance(previous, delay)
                sim.advance(command, period - delay)
                obs = sim.observe()
            else:
                obs = sim.step(command)
            previous = command
            images.append(obs.image)
            qpos.append(obs.qpos)
            qvel.append(obs.qvel)
            tool.append(sim.tool_position())
            stamps.append(obs.stamp)
            if pushing:
                objects.append(sim.object_pose())
        return {"images": np.stack(images), "qpos": np.stack(qpos), "qvel": np.stack(qvel),
                "tool": np.stack(tool), "stamps": np.array(stamps),
                "actions": np.stack(actions), "commands": np.stack(commands),
                "object_pose": np.stack(objects) if pushing else None}

    def close(self) -> None:
        self.sim.close()


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def _write_shard(collector: EpisodeCollector, out: Path, seed: int, shard: int,
                 indices: list[int], compression: int,
                 on_episode: Callable[[], None] | None = None) -> dict[str, Any]:
    episodes = []
    for i in indices:
        episodes.append(collector.episode(episode_seed(seed, i), i))
        if on_episode is not None:
            on_episode()
    arrays = pack_episodes(episodes)
    sha = write_shard(out / shard_name(shard), arrays, compression)
    return {"file": shard_name(shard), "episodes": len(indices), "first_episode": indices[0],
            "frames": int(len(arrays["images"])), "steps": int(len(arrays["actions"])),
            "sha256": sha, "content_digest": content_digest(arrays)}


_worker: EpisodeCollector | None = None


def _worker_init(simulation: dict[str, Any], config: dict[str, Any]) -> None:
    global _worker
    _worker = EpisodeCollector(cfgmod.from_dict(SimulationConfig, simulation, source="worker"),
                               cfgmod.from_dict(CollectConfig, config, source="worker"))


def _worker_shard(args: tuple[str, int, int, list[int], int]) -> dict[str, Any]:
    out, seed, shard, indices, compression = args
    assert _worker is not None
    return _write_shard(_worker, Path(out), seed, shard, indices, compression)


def plan_shards(episodes: int, per_shard: int) -> list[list[int]]:
    return [list(range(s, min(s + per_shard, episodes))) for s in range(0, episodes, per_shard)]


def _settings(simulation: SimulationConfig, config: CollectConfig) -> dict[str, Any]:
    """Everything that decides what the episodes hold; a resumed run must match it exactly."""
    return {"simulation": cfgmod.to_dict(simulation), "collect": cfgmod.to_dict(config)}


def _manifest(settings: dict[str, Any], seed: int, shards: list[dict[str, Any]],
              collector_info: dict[str, Any]) -> dict[str, Any]:
    from ... import __version__

    shards = sorted(shards, key=lambda s: s["file"])
    return {
        "format": FORMAT, "version": VERSION, "source": "mujoco",
        "created_with": f"world_model_planner {__version__}",
        "seed": seed,
        "episodes": sum(s["episodes"] for s in shards),
        "frames": sum(s["frames"] for s in shards),
        "steps": sum(s["steps"] for s in shards),
        "shards": shards,
        "digest": dataset_digest(shards),
        "config": settings,
        **collector_info,
    }


def _collector_info(collector: EpisodeCollector) -> dict[str, Any]:
    sim, robot = collector.sim, collector.sim.robot
    cam = sim.scene.cameras[sim.camera_name]
    return {
        "robot": {"name": robot.name, "joint_names": list(robot.joint_names),
                  "description_sha256": file_sha256(robot.description.source),
                  "lower": robot.lower.tolist(), "upper": robot.upper.tolist()},
        "camera": {"name": cam.name, "width": sim.config.image_width,
                   "height": sim.config.image_height, "horizontal_fov": cam.horizontal_fov,
                   "intrinsics": sim.intrinsics().k},
        "control_period": sim.config.control_period,
        "physics_timestep": sim.config.physics_timestep,
        "action_bound": collector.bound.tolist(),
        "renderer": sim.renderer_name(),
    }


@dataclasses.dataclass
class CollectResult:
    manifest: dict[str, Any]
    seconds: float
    new_frames: int
    bytes: int

    @property
    def frames_per_second(self) -> float:
        return self.new_frames / self.seconds if self.seconds > 0 else float("nan")


def _resume_plan(out: Path, plan: list[list[int]], seed: int, settings: dict[str, Any]
                 ) -> tuple[list[dict[str, Any]], list[tuple[int, list[int]]], str | None]:
    """The shards of an earlier run in `out` that are intact and planned again (kept), the
    shards still to write, and the earlier run's renderer; removes shards no longer planned."""
    existing: dict[str, dict[str, Any]] = {}
    if (out / MANIFEST).exists():
        old = Dataset(out).manifest
        if old.get("seed") != seed or old.get("config") != settings:
            raise DatasetError(f"{out}: already holds a dataset collected with another seed or "
                               "config; choose another --out or delete the folder")
        existing = {s["file"]: s for s in old["shards"]}
        renderer = old.get("renderer")
    else:
        renderer = None
    done: list[dict[str, Any]] = []
    todo: list[tuple[int, list[int]]] = []
    for k, indices in enumerate(plan):
        entry = existing.get(shard_name(k))
        if (entry and entry["episodes"] == len(indices) and (out / entry["file"]).is_file()
                and file_sha256(out / entry["file"]) == entry["sha256"]):
            done.append(entry)
        else:
            todo.append((k, indices))
    for extra in set(existing) - {shard_name(k) for k in range(len(plan))}:
        (out / extra).unlink(missing_ok=True)
    return done, todo, renderer


def collect(out: str | Path, episodes: int, *, seed: int = 0,
            simulation: SimulationConfig | None = None, config: CollectConfig | None = None,
            workers: int = 1, progress: bool = True) -> CollectResult:
    """Collect `episodes` episodes into `out`, resuming a compatible earlier run there."""
    from tqdm import tqdm

    simulation = simulation or SimulationConfig()
    config = config or CollectConfig()
    settings = _settings(simulation, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp-*"):
        stale.unlink()
    done, todo, renderer = _resume_plan(out, plan_shards(episodes, config.episodes_per_shard),
                                        seed, settings)
    bar = tqdm(total=episodes, initial=sum(s["episodes"] for s in done), unit="episode",
               desc=f"collect {out.name}", file=sys.stderr, disable=not progress, smoothing=0.1)
    started = time.perf_counter()
    new_frames = 0
    primary = EpisodeCollector(simulation, config)
    info = _collector_info(primary)
    if renderer is not None and renderer != info["renderer"] and todo:
        log.warning("%s: resuming a dataset drawn by '%s' with '%s': the new shards' frames "
                    "will differ in their pixels from what the first renderer would draw",
                    out, renderer, info["renderer"])
        info["earlier_renderers"] = [renderer]

    def finished(entry: dict[str, Any]) -> None:
        nonlocal new_frames
        done.append(entry)
        new_frames += entry["frames"]
        write_manifest(out, _manifest(settings, seed, done, info))

    pool = None
    try:
        if workers <= 1 or len(todo) <= 1:
            for k, indices in todo:
                finished(_write_shard(primary, out, seed, k, indices, config.compression,
                                      on_episode=lambda: bar.update(1)))
        else:
            ctx = mp.get_context("spawn")  # EGL contexts do not survive fork
            pool = ctx.Pool(min(workers, len(todo)), initializer=_worker_init,
                            initargs=(settings["simulation"], settings["collect"]))
            jobs = [(str(out), seed, k, indices, config.compression) for k, indices in todo]
            for entry in pool.imap_unordered(_worker_shard, jobs):
                finished(entry)
                bar.update(entry["episodes"])
            pool.close()
            pool.join()
    except BaseException:
        if pool is not None:
            pool.terminate()
            pool.join()
        for stale in out.glob(".*.tmp-*"):
            stale.unlink()
        raise
    finally:
        bar.close()
        primary.close()
    manifest = _manifest(settings, seed, done, info)
    write_manifest(out, manifest)
    size = sum((out / s["file"]).stat().st_size for s in manifest["shards"])
    return CollectResult(manifest, time.perf_counter() - started, new_frames, size)
