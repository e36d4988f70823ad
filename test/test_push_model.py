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
"""A world model of the push task: object head, export, belief and what the report measures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs PyTorch (pip install '.[train]')")

from world_model_planner.core import config as cfg  # noqa: E402
from world_model_planner.core.data.collect import collect  # noqa: E402
from world_model_planner.core.model.train import train  # noqa: E402

TINY = cfg.ModelConfig(latent_dim=16, cnn_channels=(8, 16, 16, 16), image_features=64,
                       proprio_features=32, encoder_hidden=64, ensemble_size=3,
                       dynamics_hidden=32, head_hidden=32, object_head=True, object_symmetry=4)


def tiny_push_config(**optim: object) -> cfg.TrainConfig:
    base = dict(steps=200, batch_size=16, horizon=3, eval_every=100, val_batches=2,
                learning_rate=3e-3, val_fraction=0.25, pretrain_steps=400, pretrain_batch=32,
                warmup_steps=20, threads=1, device="cpu", image_shift=1)
    base.update(optim)
    return cfg.TrainConfig(model=TINY, optim=cfg.OptimConfig(**base))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def push_data(tmp_path_factory) -> Path:
    from world_model_planner.core.paths import resolve

    sim = cfg.SimulationConfig(task="push")
    sim = dataclasses.replace(sim, sim=dataclasses.replace(sim.sim, shadows=False),
                              push=dataclasses.replace(sim.push, episode_steps=30))
    collect_cfg = cfg.load(cfg.CollectConfig, resolve("config/collect_push.yaml",
                                                      kind="collect config"))
    out = tmp_path_factory.mktemp("push") / "data"
    collect(out, 16, seed=5, simulation=sim,
            config=dataclasses.replace(collect_cfg, episodes_per_shard=8), progress=False)
    return out


@pytest.fixture(scope="module")
def push_run(push_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("push_run") / "jepa"
    train([push_data], out, tiny_push_config(), progress=False)
    return out


def test_stage_one_teaches_the_object_from_images(push_run, push_data):
    from world_model_planner.core.model.batches import load_sequences

    summary = json.loads((push_run / "train_summary.json").read_text())
    assert "object" in summary["final_val"] and "image_object_cm" in summary["final_val"]
    # Guessing the mean position, as an image path blind to the object would, misses by this:
    xy = load_sequences([push_data]).object_pose[:, :2].numpy()
    blind = 100 * float(np.linalg.norm(xy - xy.mean(0), axis=1).mean())
    assert summary["pretrain"]["image_object_cm"] < 0.75 * blind, (summary["pretrain"], blind)


def test_an_object_head_needs_push_data(tmp_path):
    sim = dataclasses.replace(cfg.SimulationConfig(), reach=dataclasses.replace(
        cfg.SimulationConfig().reach, episode_steps=5))
    collect(tmp_path / "reach", 2, seed=0, simulation=sim, progress=False)
    with pytest.raises(cfg.ConfigError, match="object_head"):
        train([tmp_path / "reach"], tmp_path / "run", tiny_push_config(steps=1), progress=False)


def test_push_export_has_an_object_head_that_matches_torch(push_run, push_data, tmp_path):
    from world_model_planner.core.export import export_model, load_trained
    from world_model_planner.core.runtime import OnnxWorldModel

    meta = export_model(push_run, tmp_path / "model", data=[push_data])
    assert meta["task"] == "push" and meta["object"]["symmetry"] == 4
    assert "object_head.onnx" in meta["files"]
    assert meta["parity"]["max_abs_error"]["object_head"]["real"] < 1e-4
    onnx_model = OnnxWorldModel(tmp_path / "model", providers="cpu")
    model, _ = load_trained(push_run)
    z = np.random.default_rng(0).standard_normal((40, TINY.latent_dim)).astype(np.float32)
    with torch.no_grad():
        expected = model.object_head(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(onnx_model.object(z), expected, atol=1e-4)
    actions = np.zeros((40, meta["horizon"], 4), np.float32)
    rollout = onnx_model.rollout(z, actions)
    assert rollout.object is not None and rollout.object.shape == (40, meta["horizon"], 4)
    with torch.no_grad():
        mean = model.dynamics.rollout(torch.from_numpy(z), torch.from_numpy(actions)).mean(0)
        np.testing.assert_allclose(rollout.object, model.object_head(mean).numpy(), atol=1e-4)


def test_regrounding_moves_the_arm_reading_and_keeps_the_object_reading():
    from world_model_planner.core.planning.belief import reground

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((8, 24)), rng.standard_normal((4, 24))

    def proprio(z: np.ndarray) -> np.ndarray:  # smooth, nonlinear heads over a 24-d latent
        return np.tanh(0.3 * z @ a.T) * 2.0

    def obj(z: np.ndarray) -> np.ndarray:
        return np.tanh(0.3 * z @ b.T)

    z = rng.standard_normal(24).astype(np.float32)
    measured = proprio((z + 0.3 * rng.standard_normal(24))[None])[0]  # the arm moved on
    scale = np.full(8, 2.0)
    moved = reground(z, measured, proprio, scale, keep=obj, iterations=5, max_step=10.0)
    before = np.abs(proprio(z[None])[0] - measured).max()
    assert np.abs(proprio(moved[None])[0] - measured).max() < 0.05 * before
    np.testing.assert_allclose(obj(moved[None])[0], obj(z[None])[0], atol=0.01)
    # Without the constraint the object reading drifts along; with it, it stays.
    free = reground(z, measured, proprio, scale, iterations=5, max_step=10.0)
    assert np.abs(obj(free[None]) - obj(z[None])).max() > 0.02
    # One bad linearisation cannot throw the belief far: every step is at most max_step long.
    short = reground(z, measured, proprio, scale, keep=obj, iterations=2, max_step=0.1)
    assert np.linalg.norm(short - z) <= 0.2 + 1e-6


def test_the_report_measures_probe_open_loop_and_permanence(push_run, push_data, tmp_path):
    from world_model_planner.core.model.report import write_report

    results = write_report([push_run], tmp_path / "MODEL.md", data=[push_data])
    obj = next(iter(results.values()))["object"]
    loop = obj["open_loop"]
    assert loop["h0_probe"]["count"] > 0 and loop["h10"]["stays_put"]["count"] > 0
    assert set(obj["permanence"]) == {"10", "20"}
    text = (tmp_path / "MODEL.md").read_text()
    assert "## The object (push models)" in text and "camera dark 1 s" in text


def test_the_controller_plans_pushes_and_keeps_the_object_while_the_camera_is_dark(
        push_run, push_data, tmp_path):
    import dataclasses as dc

    from world_model_planner.core.config import OptimizerConfig, PlannerConfig
    from world_model_planner.core.export import export_model
    from world_model_planner.core.planning.controller import MPCController
    from world_model_planner.core.robot import Robot
    from world_model_planner.core.runtime import OnnxWorldModel
    from world_model_planner.core.sim.arm import simulator_for
    from world_model_planner.core.sim.push import PushTask

    export_model(push_run, tmp_path / "model", data=[push_data])
    model = OnnxWorldModel(tmp_path / "model", providers="cpu")
    simulation = cfg.SimulationConfig(task="push")
    sim = simulator_for(simulation)
    try:
        task = PushTask(sim, simulation.push)
        episode, goal_pose = task.sample_episode(np.random.default_rng(2))
        obs = task.reset(episode)
        planner = dc.replace(PlannerConfig(model=str(tmp_path / "model")),
                             optimizer=OptimizerConfig(samples=32, iterations=1))
        controller = MPCController(model, Robot.load(), planner, 0.1)  # no monitor: forced below
        controller.set_goal_image(task.make_goal(goal_pose).image)
        assert controller.goal.kind == "push"
        np.testing.assert_allclose(controller.goal.object, model.object(model.encode(
            task.make_goal(goal_pose).image[None], np.zeros((1, 8), np.float32),
            np.array([[1.0, 0.0]], np.float32)))[0], atol=1e-5)
        for _ in range(3):
            result = controller.step(obs)
            assert "object_goal" in result.terms and "approach" in result.terms
            obs = sim.step(result.command)
        before = model.object(controller._belief[None])[0]
        js = np.concatenate([obs.qpos, obs.qvel]).astype(np.float32)
        z_prop = model.encode(np.zeros_like(obs.image)[None], js[None],
                              np.array([[0.0, 1.0]], np.float32))[0]
        kept = controller._camera_out_belief(z_prop, js)
        # The belief carries the object on (one imagined step); the joint-only encoding has
        # no object in it and reads somewhere else.
        assert np.abs(model.object(kept[None])[0] - before).max() < \
            np.abs(model.object(z_prop[None])[0] - before).max()
    finally:
        sim.close()
