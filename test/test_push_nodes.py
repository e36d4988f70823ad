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
    sim = start_node("mujoco_sim_node", "task:=push", "node.seed:=3", "node.goals:=2",
                     "push.episode_steps:=12", "node.real_time_factor:=0.0",
                     params_file=SIM_PARAMS)
    got = collect_task_topics(probe)
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
