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
"""Latent MPC on the shipped model: batching, optimisers, surprise, backends, eval, bench."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scenes import reach_episode

from world_model_planner.core.config import OptimizerConfig, PlannerConfig, SimulationConfig
from world_model_planner.core.observation import Observation
from world_model_planner.core.paths import share_path
from world_model_planner.core.robot import Robot
from world_model_planner.core.runtime import ModelError, OnnxWorldModel, select_providers
from world_model_planner.core.safety import (RESYNC, SURPRISE_CAMERA, SURPRISE_HOLD,
                                             SURPRISE_OK, SURPRISE_REGROUND, CommandLimits,
                                             SurpriseMonitor, SurpriseThresholds)

MODEL = Path(os.environ.get("WMP_TEST_MODEL", share_path("models", "wmp_arm_reach")))


@pytest.fixture(scope="module")
def model() -> OnnxWorldModel:
    return OnnxWorldModel(MODEL, providers="cpu")


@pytest.fixture(scope="module")
def scene():
    """A start observation, its goal (image and joints) from the simulator."""
    sim, task, obs, goal = reach_episode(4)
    yield sim, task, obs, goal
    sim.close()


def controller_for(model, cfg: PlannerConfig | None = None):
    from world_model_planner.core.planning.controller import MPCController

    cfg = cfg or PlannerConfig(model=str(MODEL))
    return MPCController(model, Robot.load(), cfg, 0.1,
                         surprise=SurpriseThresholds.from_meta(model.meta["surprise"]))


class CountingModel:
    """The real ONNX model, counting its calls (instrumentation, not a stand-in)."""

    def __init__(self, inner: OnnxWorldModel) -> None:
        self.inner = inner
        self.rollout_batches: list[int] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def rollout(self, latent, actions):
        self.rollout_batches.append(len(latent))
        return self.inner.rollout(latent, actions)


SHIPPED = sorted(p.parent for p in Path(share_path("models")).glob("*/meta.json"))
ROBOT_OF = {"wmp_ur5e_reach": "config/robots/ur5e.yaml"}  # the others: the package arm


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_model_matches_its_meta(folder):
    model = OnnxWorldModel(folder, providers="cpu")
    meta = json.loads((folder / "meta.json").read_text())
    import hashlib

    for name, entry in meta["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
    total = sum((folder / n).stat().st_size for n in meta["files"]) + (folder / "meta.json").stat(
    ).st_size
    assert total <= 25 * 2 ** 20
    robot = Robot.load(ROBOT_OF[folder.name]) if folder.name in ROBOT_OF else Robot.load()
    assert meta["joint_names"] == list(robot.joint_names)
    assert model.horizon == meta["horizon"] and model.latent_dim == meta["latent_dim"]
    for graph in ("encoder", "dynamics", "proprio_head", "decoder"):
        session = model.sessions[graph]
        declared = meta["files"][f"{graph}.onnx"]["shapes"]
        for arg in session.get_inputs() + session.get_outputs():
            dims = [d for d in declared[arg.name] if not isinstance(d, str)]
            assert [d for d in arg.shape if isinstance(d, int)] == dims
    assert "surprise" in meta and meta["surprise"]["hold"] > meta["surprise"]["reground"] > 0


def test_every_shipped_model_is_there():
    assert {p.name for p in SHIPPED} >= {"wmp_arm_reach", "wmp_arm_reach_robust",
                                         "wmp_arm_reach_hardened", "wmp_arm_push",
                                         "wmp_ur5e_reach"}


def test_each_optimizer_iteration_is_one_batched_model_call(model, scene):
    _, _, obs, goal = scene
    for algorithm in ("cem", "mppi"):
        counting = CountingModel(model)
        cfg = PlannerConfig(model=str(MODEL), optimizer=OptimizerConfig(algorithm=algorithm))
        controller = controller_for(counting, cfg)
        controller.set_goal_joints(goal.joints)
        counting.rollout_batches.clear()
        controller.step(obs)
        big = [n for n in counting.rollout_batches if n > 1]
        assert big == [cfg.optimizer.samples] * cfg.optimizer.iterations, algorithm


def test_plans_stay_in_bounds_and_head_for_the_goal(model, scene):
    sim, task, obs, goal = scene
    robot = Robot.load()
    for algorithm in ("cem", "mppi"):
        cfg = PlannerConfig(model=str(MODEL), optimizer=OptimizerConfig(algorithm=algorithm))
        controller = controller_for(model, cfg)
        controller.set_goal_joints(goal.joints)
        result = controller.step(obs)
        plan = result.plan
        assert np.all(np.abs(plan.actions) <= model.action_bound + 1e-6)
        assert plan.costs_per_iteration[-1] <= plan.costs_per_iteration[0] + 1e-6
        before = np.linalg.norm(robot.tool_positions(obs.qpos) - goal.tool_position)
        after = np.linalg.norm(robot.tool_positions(result.command) - goal.tool_position)
        assert after < before, (algorithm, before, after)


def test_warm_start_begins_from_the_shifted_previous_plan(model, scene):
    _, _, obs, goal = scene
    controller = controller_for(model)
    controller.set_goal_joints(goal.joints)
    controller.step(obs)
    previous = controller.planner.optimizer.mean.copy()
    mean, _ = controller.planner.optimizer._start()
    np.testing.assert_allclose(mean[:-1], previous[1:])
    assert np.all(mean[-1] == 0)
    controller.planner.reset()
    assert np.all(controller.planner.optimizer._start()[0] == 0)


def test_a_black_frame_is_flagged_and_joint_state_keeps_the_belief(model, scene):
    sim, task, obs, goal = scene
    controller = controller_for(model)
    controller.set_goal_image(goal.image)
    first = controller.step(obs)
    assert first.decision == SURPRISE_OK
    nxt = sim.step(first.command)
    black = Observation(np.zeros_like(nxt.image), nxt.qpos, nxt.qvel, nxt.stamp)
    result = controller.step(black)
    assert result.decision == SURPRISE_CAMERA
    assert result.surprise > controller.monitor.reground
    assert np.all(np.isfinite(result.command)) and not result.held
    sim.reset(obs.qpos)


def test_an_arm_moved_elsewhere_is_controlled_from_where_it_now_is(model, scene):
    """A simulator reset between goals (or hand guiding) puts the arm far from the last command;
    the next command must start from there, not drag the arm back to where it was."""
    sim, task, obs, goal = scene
    robot = Robot.load()
    controller = controller_for(model)
    controller.set_goal_image(goal.image)
    first = controller.step(obs)
    assert first.decision == SURPRISE_OK
    elsewhere_q = np.clip(obs.qpos + np.array([1.0, -0.4, 0.8, 0.3]), robot.lower, robot.upper)
    elsewhere = sim.reset(elsewhere_q)
    try:
        result = controller.step(elsewhere)
    finally:
        sim.reset(obs.qpos)
    assert result.decision == RESYNC and not result.held
    max_step = CommandLimits.from_robot(robot).max_velocity * 0.1
    assert np.all(np.abs(result.command - elsewhere.qpos) <= max_step + 1e-9)
    # without the restart the command would have stayed next to the old one
    assert np.max(np.abs(result.command - first.command)) > 0.5


def test_surprise_monitor_decides_ok_camera_reground_and_hold():
    d = 4
    t = SurpriseThresholds(np.ones(d), np.ones(d), reground=2.0, hold=10.0, proprio_reground=2.0)
    monitor = SurpriseMonitor(t, hold_after=2)
    z = np.zeros(d)
    assert monitor.assess(z, z + 0.5, z + 0.5).decision == SURPRISE_OK
    assert monitor.assess(z, z + 3.0, z + 0.5).decision == SURPRISE_CAMERA
    assert monitor.assess(z, z + 2.0, z + 2.0).decision == SURPRISE_REGROUND
    assert monitor.assess(z, z + 5.0, z + 5.0).decision == SURPRISE_REGROUND  # 1st above hold
    assert monitor.assess(z, z + 5.0, z + 5.0).decision == SURPRISE_HOLD  # sustained
    assert monitor.assess(z, z, z).decision == SURPRISE_OK
    assert monitor.assess(z, z + np.nan, z).decision == SURPRISE_CAMERA  # NaN is never "ok"


def test_a_surprise_is_the_cameras_only_when_the_image_shows_the_arm_elsewhere():
    """Push models: the image disagrees with the prediction but joint state agrees. If the image
    alone reads the joints where they are, the camera works and the world surprised us."""
    d = 4
    t = SurpriseThresholds(np.ones(d), np.ones(d), reground=2.0, hold=10.0, proprio_reground=2.0)
    monitor = SurpriseMonitor(t, camera_check=0.3)
    z = np.zeros(d)
    assert monitor.assess(z, z + 3.0, z + 0.5, camera_error=0.05).decision == SURPRISE_REGROUND
    assert monitor.assess(z, z + 3.0, z + 0.5, camera_error=0.7).decision == SURPRISE_CAMERA
    assert monitor.assess(z, z + 3.0, z + 0.5, camera_error=np.nan).decision == SURPRISE_CAMERA
    assert monitor.assess(z, z + 0.5, z + 0.5, camera_error=0.7).decision == SURPRISE_OK
    off = SurpriseMonitor(t)  # camera_check 0: the check is off
    assert off.assess(z, z + 3.0, z + 0.5, camera_error=0.05).decision == SURPRISE_CAMERA


def assert_same_rollout(r1, r2, atol: float = 1e-4) -> None:
    """Two backends' rollouts of the same latents and actions agree in every output."""
    for name in ("latent_mean", "disagreement", "joint_positions"):
        np.testing.assert_allclose(getattr(r1, name), getattr(r2, name), atol=atol,
                                   err_msg=name)


def test_torch_backend_computes_what_onnx_computes(model):
    from world_model_planner.core.planning.torch_backend import TorchWorldModel

    torch_model = TorchWorldModel(MODEL)
    rng = np.random.default_rng(0)
    h, w = model.image_hw
    images = rng.integers(0, 256, (3, h, w, 3), dtype=np.uint8)
    js = rng.standard_normal((3, 2 * model.joints)).astype(np.float32)
    mask = np.array([[1, 1], [1, 0], [0, 1]], np.float32)
    np.testing.assert_allclose(model.encode(images, js, mask), torch_model.encode(images, js, mask),
                               atol=1e-4)
    z = model.encode(images, js, mask)
    a = rng.uniform(-1, 1, (3, model.horizon, model.joints)).astype(np.float32) * \
        model.action_bound
    assert_same_rollout(model.rollout(z, a), torch_model.rollout(z, a))


def test_batches_split_across_threads_compute_what_one_call_computes(model):
    """The CPU default runs each batch as slices side by side; a plan must not notice."""
    whole = OnnxWorldModel(MODEL, providers="cpu", batch_shards=False)
    sliced = OnnxWorldModel(MODEL, providers="cpu", threads=3)  # uneven slices, on any machine
    rng = np.random.default_rng(3)
    h, w = model.image_hw
    images = rng.integers(0, 256, (5, h, w, 3), dtype=np.uint8)
    js = rng.standard_normal((5, 2 * model.joints)).astype(np.float32)
    mask = np.ones((5, 2), np.float32)
    np.testing.assert_allclose(sliced.encode(images, js, mask), whole.encode(images, js, mask),
                               atol=1e-5)
    for n in (1, 100, 257, 257):  # 257 twice: the second call reuses the bound buffers
        z = rng.standard_normal((n, model.latent_dim)).astype(np.float32)
        a = rng.uniform(-1, 1, (n, model.horizon, model.joints)).astype(np.float32) * \
            model.action_bound
        assert_same_rollout(sliced.rollout(z, a), whole.rollout(z, a), atol=1e-5)
        np.testing.assert_allclose(sliced.proprio(z), whole.proprio(z), atol=1e-5)
    assert len(sliced.shards.bounds(257, 32)) == 3 and whole.shards.workers == 1
    np.testing.assert_allclose(sliced.decode(z[:4]), whole.decode(z[:4]), atol=1e-5)


def test_a_failing_batch_slice_raises_in_the_caller():
    from world_model_planner.core.batch_shards import BatchShards

    shards = BatchShards(3)
    bounds = shards.bounds(10)
    assert bounds == [(0, 3), (3, 6), (6, 10)]
    assert shards.bounds(10, min_rows=4) == [(0, 5), (5, 10)]

    def fail_last(lo: int, hi: int) -> int:
        if hi == 10:
            raise ValueError("slice 6:10")
        return hi - lo

    with pytest.raises(ValueError, match="slice 6:10"):
        shards.run(fail_last, bounds)
    assert shards.run(lambda lo, hi: hi - lo, bounds[:2]) == [3, 3]
    shards.close()


def test_torch_backend_on_a_gpu_replays_cuda_graphs_that_compute_what_eager_does(model):
    import torch

    from world_model_planner.core.planning.torch_backend import TorchWorldModel

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (run on a GPU machine: pytest -k cuda_graphs)")
    eager = TorchWorldModel(MODEL, device="cuda", cuda_graphs=False)
    graphed = TorchWorldModel(MODEL, device="cuda")
    assert graphed.provider == "torch-cuda-graphs"
    rng = np.random.default_rng(1)
    h, w = model.image_hw
    for batch in (1, 4, 1):  # a shape seen before replays its graph with the new inputs
        images = rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8)
        js = rng.standard_normal((batch, 2 * model.joints)).astype(np.float32)
        mask = np.ones((batch, 2), np.float32)
        z = eager.encode(images, js, mask)
        np.testing.assert_allclose(graphed.encode(images, js, mask), z, atol=1e-4)
        z = np.repeat(z[:1], 256, axis=0)
        a = rng.uniform(-1, 1, (256, model.horizon, model.joints)).astype(np.float32) * \
            model.action_bound
        assert_same_rollout(eager.rollout(z, a), graphed.rollout(z, a))


def test_torch_backend_names_the_setting_when_no_gpu_is_there():
    import torch

    from world_model_planner.core.planning.torch_backend import TorchWorldModel

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match="torch_device"):
        TorchWorldModel(MODEL, device="cuda")


def test_cpu_only_machine_falls_back_with_a_warning(caplog):
    import onnxruntime as ort

    if set(ort.get_available_providers()) & {"CUDAExecutionProvider",
                                             "TensorrtExecutionProvider"}:
        pytest.skip("this machine has a GPU provider")
    assert select_providers("auto") == ["CPUExecutionProvider"]
    with caplog.at_level(logging.INFO, logger="world_model_planner.core.runtime"):
        OnnxWorldModel(MODEL)
    text = caplog.text
    assert "CPUExecutionProvider" in text and "onnxruntime-gpu" in text
    with pytest.raises(ModelError, match="CUDAExecutionProvider"):
        select_providers("cuda")


def test_tampered_or_mismatched_models_are_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    data = bytearray((copy / "dynamics.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "dynamics.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="dynamics.onnx: sha256 .* refusing"):
        OnnxWorldModel(copy)
    shutil.copy(MODEL / "dynamics.onnx", copy / "dynamics.onnx")
    with pytest.raises(ModelError, match="differ from the robot"):
        OnnxWorldModel(copy, expected_joints=["a", "b", "c", "d"])
    (copy / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="meta.json: not valid JSON"):
        OnnxWorldModel(copy)


def test_eval_runs_every_method_and_reports(tmp_path):
    from world_model_planner.core.config import EvalConfig
    from world_model_planner.core.eval import Evaluator, summarize

    small = dataclasses.replace(PlannerConfig(model=str(MODEL)),
                                optimizer=OptimizerConfig(samples=64, iterations=2))
    cfg = EvalConfig(episodes=1, conditions=("nominal", "dropout"))
    evaluator = Evaluator(SimulationConfig(), small, cfg)
    results = evaluator.run()
    assert {(r.method, r.condition) for r in results} == {
        (m, c) for m in cfg.methods for c in cfg.conditions}
    summary = summarize(results, cfg)
    p = summary["p_controller"]["nominal"]
    assert p["success_rate"] == 1.0 and p["final_error_median_m"] < 0.03
    assert summary["random"]["nominal"]["success_rate"] == 0.0
    wm = summary["wm_cem"]["dropout"]
    assert wm["event_detection_rate"] == 1.0, "a black frame must be flagged"
    assert "false_alarm_rate" in summary["wm_cem"]["nominal"]
    from world_model_planner.core import eval_report

    info = {"command": "test", "machine": "test", "date": "today", "model": str(MODEL),
            "radius": 0.03, "episode_steps": 60}
    path = eval_report.write(results, summary, cfg, tmp_path, info)
    text = path.read_text()
    assert "| world model + CEM |" in text and "Failure cases" in text
    assert (tmp_path / "figures" / "eval_success.png").stat().st_size > 1000
    assert json.loads((tmp_path / "eval.json").read_text())["summary"]["oracle"]


def test_an_eval_episode_plays_the_same_whatever_ran_before_it():
    # Each episode restarts the optimisers' draws from its own seed, so a failing episode can be
    # re-run alone and two variants of the planner can be compared episode by episode.
    from world_model_planner.core.config import EvalConfig
    from world_model_planner.core.eval import Evaluator

    small = dataclasses.replace(PlannerConfig(model=str(MODEL)),
                                optimizer=OptimizerConfig(samples=64, iterations=2))
    cfg = EvalConfig(episodes=2, methods=("wm_mppi", "random"), conditions=("nominal",))
    after = {r.method: r for r in Evaluator(SimulationConfig(), small, cfg).run()
             if r.index == 1}
    alone = Evaluator(SimulationConfig(), small, cfg)
    for method, result in after.items():
        again = alone.run_episode(method, "nominal", 1)
        assert (again.steps, again.final_error) == (result.steps, result.final_error), method
        assert again.decisions == result.decisions


@pytest.mark.slow
def test_bench_times_a_larger_budget_without_the_monitor_stopping_it(tmp_path):
    # torch once replayed ONNX Runtime's closed loop; with 512 samples its own rounding chose
    # other commands by step 94, the position-loop check held, and the bench stopped
    text = Path(share_path("config", "planner.yaml")).read_text()
    assert "samples: 256" in text and "elites: 32" in text
    config = tmp_path / "planner.yaml"
    larger = text.replace("samples: 256", "samples: 512").replace("elites: 32", "elites: 64")
    config.write_text(larger)
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "bench", "--model",
                           str(MODEL), "--planner-config", str(config), "--steps", "100",
                           "--plans", "20", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["budget"]["samples"] == 512 and result["steps_measured"] == 100
    assert result["torch_p50_ms"] > 0 and result["ort_over_torch"] > 0


def test_bench_prints_one_json_object_with_the_figures():
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "bench", "--model",
                           str(MODEL), "--steps", "5", "--plans", "20", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    for key in ("p50_ms", "p99_ms", "ort_over_torch", "peak_fraction", "rollouts_per_second"):
        assert result[key] > 0, key
    assert result["budget"] == {"algorithm": "cem", "samples": 256, "horizon": 8,
                                "iterations": 3, "ensemble_members": 5,
                                "encoder_images_per_step": 4}
