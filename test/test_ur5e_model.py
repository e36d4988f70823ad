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
"""The shipped UR5e model: it fits the UR5e and no other arm, and the real-mode graph of
graph.py drives ur_robot_driver's scaled_joint_trajectory_controller with it over real DDS
(the driver's side played by the test: joint states and camera frames in, trajectories out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from world_model_planner import graph
from world_model_planner.core.config import PlannerConfig, ReachTaskConfig, SimConfig
from world_model_planner.core.paths import share_path
from world_model_planner.core.planning.backends import load_world_model
from world_model_planner.core.robot import Robot
from world_model_planner.core.runtime import ModelError

UR5E = "config/robots/ur5e.yaml"
MODEL = os.environ.get("WMP_TEST_UR5E_MODEL", str(share_path("models", "wmp_ur5e_reach")))


def test_the_shipped_model_fits_the_ur5e_and_is_refused_for_the_reference_arm():
    model = load_world_model(MODEL, PlannerConfig(), Robot.load(UR5E), (64, 64))
    assert list(model.joint_names) == list(Robot.load(UR5E).joint_names)
    with pytest.raises(ModelError, match="shoulder_pan_joint"):
        load_world_model(MODEL, PlannerConfig(), Robot.load(), (64, 64))


def test_the_shipped_model_folder_is_a_checkpoint_to_refit_or_fine_tune(tmp_path):
    import torch

    from world_model_planner.core.export import checkpoint_folder, load_trained

    assert checkpoint_folder(MODEL).resolve() == Path(MODEL).resolve()
    torch_model, state = load_trained(MODEL)
    assert state["joint_names"] == list(Robot.load(UR5E).joint_names)
    onnx_model = load_world_model(MODEL, PlannerConfig(), Robot.load(UR5E), (64, 64))
    latent = np.random.default_rng(0).standard_normal((4, onnx_model.latent_dim)).astype(
        np.float32)
    with torch.no_grad():
        expected = torch_model.proprio_head(torch.from_numpy(latent)).numpy()
    np.testing.assert_allclose(onnx_model.proprio(latent), expected, atol=1e-4)


@pytest.fixture(scope="module")
def ur5e_scene():
    """A frame and joint state of the simulated UR5e, and a goal, rendered in-process."""
    from world_model_planner.core.sim.arm import ArmSim
    from world_model_planner.core.sim.reach import ReachTask

    sim = ArmSim(SimConfig(robot=UR5E))
    task = ReachTask(sim, ReachTaskConfig())
    start, goal_q = task.sample_episode(np.random.default_rng(21))
    obs = sim.reset(start)
    goal = task.make_goal(goal_q)
    sim.close()
    return obs, goal


@pytest.mark.integration
def test_real_mode_commands_the_scaled_trajectory_controller(ros_domain, probe, ur5e_scene,
                                                             tmp_path):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from sensor_msgs.msg import Image, JointState
    from trajectory_msgs.msg import JointTrajectory

    from world_model_planner.nodes import messages as m
    from world_model_planner.supervisor import Supervisor

    robot = Robot.load(UR5E)
    controllers = robot.config.controllers
    nodes = graph.build("real", robot=UR5E, model=MODEL, command_interface="trajectory",
                        robot_controllers=(controllers.position, controllers.trajectory))
    assert [n.name for n in nodes] == [graph.PLANNER_NODE]  # the driver publishes TF itself
    obs, goal = ur5e_scene
    trajectories = probe.collect(JointTrajectory,
                                 "scaled_joint_trajectory_controller/joint_trajectory",
                                 m.RELIABLE_QOS)
    image_pub = probe.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    joints_pub = probe.node.create_publisher(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    goal_pub = probe.node.create_publisher(JointState, f"/{graph.PLANNER_NODE}/goal_joints",
                                           m.LATCHED_QOS)
    names = list(robot.joint_names)

    def publish() -> None:  # the camera driver and ur_robot_driver's joint_state_broadcaster
        stamp = probe.node.get_clock().now().to_msg()
        image_pub.publish(m.rgb_to_image(obs.image, stamp=stamp))
        joints_pub.publish(m.joint_state_message(names, obs.qpos, obs.qvel, stamp=stamp))

    change = probe.node.create_client(ChangeState, f"/{graph.PLANNER_NODE}/change_state")
    get = probe.node.create_client(GetState, f"/{graph.PLANNER_NODE}/get_state")

    def transition(tid: int) -> bool:
        return probe.call(change, ChangeState.Request(transition=Transition(id=tid)),
                          timeout=60).success

    with Supervisor(nodes, log_dir=tmp_path / "logs") as running:
        assert probe.call(get, GetState.Request(), timeout=60).current_state.label == \
            "unconfigured"  # real mode waits for an operator
        assert transition(Transition.TRANSITION_CONFIGURE), \
            (tmp_path / "logs" / "planner.log").read_text()[-3000:]
        goal_pub.publish(m.joint_state_message(names, goal.joints))
        assert transition(Transition.TRANSITION_ACTIVATE)
        probe.spin_until(lambda: len(trajectories) >= 5, 60, "5 trajectories", every=publish,
                         period=0.05)
        assert running.first_exit() is None
    last = trajectories[-1][1]
    assert list(last.joint_names) == names
    # The UR5e's filter: 0.3 x 180 deg/s, from the measured joints to the first command and
    # from each command to the next (the arm here never moves, so commands may run ahead of it
    # up to the robot config's path_tolerance, one bounded step at a time).
    limit = 0.3 * np.pi * 0.1 + 1e-6
    firsts = [np.array(t.points[0].positions) for _, t in trajectories]
    assert np.all(np.abs(firsts[0] - obs.qpos) <= limit), firsts[0] - obs.qpos
    for before, after in zip(firsts, firsts[1:]):
        assert np.all(np.abs(after - before) <= limit), after - before


@pytest.mark.integration
def test_wmp_run_reaches_ur5e_goals_over_dds(ros_domain, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "run", "--mode",
                           "mujoco", "--robot", UR5E, "--model", MODEL, "--goals", "2",
                           "--seed", "3", "--json", "--timeout", "150", "--log-dir",
                           str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["goals"] == 2 and summary["successes"] >= 1, summary
