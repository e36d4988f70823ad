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
"""The push task through the ROS graph: the simulator posing pushes, the planner planning them,
the recorder keeping the object's pose, and `wmp run --task push`.

Every node runs as its own process over real DDS in the test's own domain. Nothing here needs a
push model that reaches its goals: the checks are what a user sees (goals posed, results with
the object's error, refusals that say how to fix them, recordings that train), not success rates.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                            "'world_model_planner[ros]'); the node integration tests need it")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from ros_harness import start_first_goal  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core import config as cfg  # noqa: E402
from world_model_planner.core.paths import share_path  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

pytestmark = pytest.mark.integration

JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")
SIM_PARAMS = str(share_path(graph.SIM_PARAMS))
PLANNER_PARAMS = str(share_path(graph.PLANNER_PARAMS))
REACH_MODEL = str(share_path("models", "wmp_arm_reach"))


def push_task(seed: int, index: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """(PushTask, start pose, goal pose) of the simulator's goal `index` for task seed `seed`,
    drawn in-process as the node draws them."""
    from world_model_planner.core.data.collect import episode_seed
    from world_model_planner.core.sim.arm import simulator_for
    from world_model_planner.core.sim.push import PushTask

    simulation = cfg.SimulationConfig(task="push")
    task = PushTask(simulator_for(simulation), simulation.push)
    start, goal = task.sample_episode(np.random.default_rng(episode_seed(seed, index)))
    return task, start.object_pose, goal


def collect_task_topics(probe) -> dict[str, list]:
    return {
        "results": probe.collect(String, graph.TASK_RESULT, m.RELIABLE_QOS),
        "goal_images": probe.collect(Image, graph.TASK_GOAL_IMAGE, m.LATCHED_QOS),
        "goal_joints": probe.collect(JointState, graph.TASK_GOAL_JOINTS, m.LATCHED_QOS),
        "objects": probe.collect(PoseStamped, graph.TASK_OBJECT_POSE, m.RELIABLE_QOS),
        "images": probe.collect(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS),
    }


def test_push_task_poses_seeded_object_goals_and_reports_the_object_error(start_node, probe):
    # Results are not latched: the first goal's clock starts once the probe hears the simulator.
    sim = start_node("mujoco_sim_node", "task:=push", "node.seed:=3", "node.goals:=2",
                     "push.episode_steps:=12", "node.real_time_factor:=0.0",
                     "node.start_on_command:=true", params_file=SIM_PARAMS)
    got = collect_task_topics(probe)
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    start_first_goal(probe, sim, states, JOINTS)
    probe.spin_until(lambda: len(got["results"]) >= 2, 60, "two push results")
    results = [json.loads(msg.data) for _, msg in got["results"]]
    task, start0, goal0 = push_task(3, 0)
    _, start1, goal1 = push_task(3, 1)
    for result, start, goal in zip(results, (start0, start1), (goal0, goal1)):
        # Nothing commanded the arm, so the object stays at its seeded start and misses.
        assert result["task"] == "push" and result["success"] is False, result
        assert result["steps"] == 12
        np.testing.assert_allclose(result["goal_object"], goal, atol=1e-4)
        np.testing.assert_allclose(result["start_object"], start, atol=1e-4)
        np.testing.assert_allclose(result["final_object"][:2], start[:2], atol=2e-3)
        assert result["final_error_m"] == pytest.approx(np.linalg.norm(goal[:2] - start[:2]),
                                                        abs=2e-3)
    # Goals are posed by picture: the object at its goal, the arm at rest, seen through the
    # push task's own camera; the goal joints are that rest pose.
    goal_image = got["goal_images"][-1][1]
    assert goal_image.header.frame_id == "table_camera_optical_frame"
    expected = task.make_goal(goal1).image.astype(float)
    assert np.abs(m.image_to_rgb(goal_image).astype(float) - expected).mean() < 3.0
    np.testing.assert_allclose(m.joint_state_to_vector(got["goal_joints"][-1][1], JOINTS),
                               task.rest_pose, atol=1e-9)
    assert got["images"][-1][1].header.frame_id == "table_camera_optical_frame"
    # The true object pose comes with every camera frame, stamped like it, in the world frame.
    objects = got["objects"]
    assert objects and all(msg.header.frame_id == "world" for _, msg in objects)
    frame_stamps = {m.time_to_seconds(msg.header.stamp) for _, msg in got["images"]}
    assert any(m.time_to_seconds(msg.header.stamp) in frame_stamps for _, msg in objects)
    assert sim.proc.poll() is None, sim.output


def test_the_planner_refuses_a_model_of_another_task_naming_the_fix(ros_domain):
    from ros_harness import node_command

    proc = subprocess.run(node_command("planner_node", "task:=push",
                                       f"planner.model:={REACH_MODEL}",
                                       params_file=PLANNER_PARAMS),
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "task" in out and "meta.json" in out and "reach" in out, out
    assert "models/wmp_arm_push" in out and "task:=reach" in out, out


@pytest.fixture(scope="module")
def push_model(tmp_path_factory) -> str:
    """The shipped push model where there is one (these tests check plumbing, not success),
    else a tiny one trained here as test_push_model.py trains it, only shorter."""
    shipped = share_path(*graph.DEFAULT_MODELS["push"].split("/"))
    if (shipped / "meta.json").is_file():
        return str(shipped)
    pytest.importorskip("torch", reason="no shipped push model and no PyTorch to train one")
    from test_push_model import tiny_push_config

    from world_model_planner.core.data.collect import collect
    from world_model_planner.core.export import export_model
    from world_model_planner.core.model.train import train
    from world_model_planner.core.paths import resolve

    root = tmp_path_factory.mktemp("push_model")
    sim = cfg.SimulationConfig(task="push")
    sim = dataclasses.replace(sim, sim=dataclasses.replace(sim.sim, shadows=False),
                              push=dataclasses.replace(sim.push, episode_steps=20))
    collect_cfg = cfg.load(cfg.CollectConfig, resolve("config/collect_push.yaml",
                                                      kind="collect config"))
    collect(root / "data", 6, seed=5, simulation=sim,
            config=dataclasses.replace(collect_cfg, episodes_per_shard=6), progress=False)
    train([root / "data"], root / "run", tiny_push_config(steps=40, pretrain_steps=40,
                                                          eval_every=20), progress=False)
    export_model(root / "run", root / "model", data=[root / "data"])
    return str(root / "model")


def run_wmp(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "world_model_planner.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_wmp_run_push_reports_each_goal_s_object_error_and_a_report(
        push_model, ros_domain, tmp_path):
    proc = run_wmp("run", "--mode", "mujoco", "--task", "push", "--goals", "1", "--seed", "7",
                   "--model", push_model, "--json", "--timeout", "300",
                   "--report", str(tmp_path / "push.png"), "--log-dir", str(tmp_path / "logs"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["task"] == "push" and summary["goals"] == 1, summary
    result = summary["results"][0]
    assert result["task"] == "push" and "goal_object" in result and "final_object" in result
    assert summary["final_errors_m"] == [result["final_error_m"]]
    assert "goal 0: " in proc.stderr and "final object error" in proc.stderr, proc.stderr
    assert (tmp_path / "push.png").stat().st_size > 10_000
    assert summary["pictured_goals"] == 1, "the report lacks the goal image and the last frame"
    planner_log = (tmp_path / "logs" / "planner.log").read_text()
    assert "push task" in planner_log, planner_log


def test_wmp_demo_without_a_push_model_names_it_and_the_command_that_makes_it(tmp_path):
    env = dict(os.environ, WMP_SHARE_DIR=str(share_without_push_model(tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "demo", "--out",
                           str(tmp_path / "demo")], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "models/wmp_arm_push" in proc.stderr and "wmp train --task push" in proc.stderr
    assert not (tmp_path / "demo").exists(), "nothing may start without the push model"


def share_without_push_model(tmp_path: Path) -> Path:
    """A share folder like the package's, without models/wmp_arm_push."""
    share, real = tmp_path / "share", share_path()
    share.mkdir()
    for entry in real.iterdir():
        if entry.name != "models":
            (share / entry.name).symlink_to(entry)
    (share / "models").mkdir()
    for model in (real / "models").iterdir():
        if model.name != "wmp_arm_push":
            (share / "models" / model.name).symlink_to(model)
    return share


def matched_topics(child) -> set[str]:
    return {line.split(": ")[-2].split()[-1] for line in child.lines
            if "publisher(s) matched" in line and not line.endswith(": 0 publisher(s) matched")}


def test_a_recorded_push_session_imports_into_push_episodes_that_train(start_node, probe,
                                                                       tmp_path):
    from world_model_planner.core.data import mcap_import
    from world_model_planner.core.data.shards import Dataset

    node, executor = probe.node, probe.executor
    recorder = start_node("recorder_node", f"output_dir:={tmp_path / 'rec'}",
                          params_file=str(share_path(graph.RECORDER_PARAMS)))
    recorder.wait_for(lambda: "recording /joint_states" in recorder.output, "start-up")
    sim = start_node("mujoco_sim_node", "task:=push", "node.goals:=3", "node.seed:=4",
                     "push.episode_steps:=10", "node.start_on_command:=true",
                     params_file=SIM_PARAMS)
    got = collect_task_topics(probe)
    pub = node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    wanted = {"/" + t for t in (graph.JOINT_STATES, graph.CAMERA_IMAGE, graph.TASK_RESULT,
                                graph.TASK_OBJECT_POSE, graph.TASK_GOAL_IMAGE,
                                graph.POSITION_COMMANDS)}
    recorder.wait_for(lambda: matched_topics(recorder) >= wanted, "the recorder to match the "
                      "simulator's and the commander's publishers", timeout=60)
    deadline, next_command = time.monotonic() + 120.0, 0.0
    sweep = np.array([0.0, 0.5, 1.2, 1.0])  # the tool low over the floor, sweeping the base
    while len(got["results"]) < 3:  # a stand-in commander at the control rate
        assert time.monotonic() < deadline, f"no results; the sim said:\n{sim.output}"
        if time.monotonic() >= next_command:
            sweep[0] = 0.6 * np.sin(time.monotonic())
            pub.publish(m.position_command_message(sweep))
            next_command = time.monotonic() + 0.1
        executor.spin_once(timeout_sec=0.01)
    results = [json.loads(msg.data) for _, msg in got["results"]]
    assert sim.stop() == 0 and recorder.stop() == 0, recorder.output
    manifest = mcap_import.convert_recordings(tmp_path / "rec", tmp_path / "data")
    assert manifest["task"] == "push", manifest
    episodes = list(Dataset(tmp_path / "data").episodes())
    assert len(episodes) == 3, manifest
    for ep, result in zip(episodes, results):
        assert ep.object_pose is not None and ep.object_pose.shape == (ep.steps + 1, 3)
        # The episode's goal is the one its goal image showed (task/result), not where the
        # object happened to end; its poses run from the start to the result's final pose.
        np.testing.assert_allclose(ep.goal_object, result["goal_object"], atol=1e-4)
        np.testing.assert_allclose(ep.object_pose[0, :2], result["start_object"][:2], atol=0.02)
        np.testing.assert_allclose(ep.object_pose[-1, :2], result["final_object"][:2], atol=0.02)
    # `wmp train --task push --data <recording>` reads the folder the same way.
    pytest.importorskip("torch", reason="training needs PyTorch (pip install '.[train]')")
    from test_push_model import tiny_push_config

    from world_model_planner.core.model.train import train

    train([tmp_path / "rec"], tmp_path / "run", tiny_push_config(
        steps=2, pretrain_steps=2, eval_every=2, val_batches=1, batch_size=4, pretrain_batch=4,
        warmup_steps=1), progress=False)
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert "image_object_cm" in summary["final_val"], summary
