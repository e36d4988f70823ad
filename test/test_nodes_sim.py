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
"""The mujoco_sim node as a separate process, talked to over real DDS.

Each test starts its own node in its own ROS domain (localhost discovery only), so tests cannot
hear each other, and stops it with SIGINT (then SIGKILL) whatever happens.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                            "'world_model_planner[ros]'); the node integration tests need it")

from ros_harness import Probe, start_first_goal  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.paths import share_path  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

pytestmark = pytest.mark.integration

JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")
SIM_PARAMS = str(share_path(graph.SIM_PARAMS))


# Fixtures ros_domain, start_node and probe come from conftest.py (ros_harness.py).


def start_sim(start_node, *params: str):
    """The sim node with the package's config/sim.yaml plus `params` overrides."""
    return start_node("mujoco_sim_node", *params, params_file=SIM_PARAMS)


def wait_for_joints(probe: Probe, states: list, count: int = 1, timeout: float = 20.0) -> None:
    probe.spin_until(lambda: len(states) >= count, timeout, f"{count} joint_states messages")


def latest_qpos(states: list) -> np.ndarray:
    return m.joint_state_to_vector(states[-1][1], JOINTS)


# -- tests -----------------------------------------------------------------------------------


def test_joint_states_name_the_robot_joints_at_the_configured_rate(start_node, probe):
    start_sim(start_node, "node.task_enabled:=false", "node.joint_state_rate:=40.0")
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    clock = probe.collect(Clock, graph.CLOCK, m.CLOCK_QOS)
    wait_for_joints(probe, states)
    first = len(states)
    wait_for_joints(probe, states, first + 80)
    window = states[first:]
    msg = window[-1][1]
    assert tuple(msg.name) == JOINTS
    assert len(msg.position) == len(msg.velocity) == len(JOINTS)
    stamps = np.array([m.time_to_seconds(s.header.stamp) for _, s in window])
    assert np.all(np.diff(stamps) > 0), "stamps are simulation time and must increase"
    # On the simulator's 10 ms ticks: 1/40 s on average, none lost (reliable). How closely
    # simulation time follows the wall clock depends on the machine (docs/BENCHMARKS.md).
    assert np.mean(np.diff(stamps)) == pytest.approx(1 / 40.0, rel=0.05)
    assert np.max(np.diff(stamps)) <= 0.03 + 1e-9
    assert clock and m.time_to_seconds(clock[-1][1].clock) >= stamps[-1] - 0.05


def test_camera_sends_images_of_the_configured_size_with_camera_info(start_node, probe):
    start_sim(start_node, "node.task_enabled:=false", "sim.image_width:=48",
              "sim.image_height:=32", "node.camera_rate:=20.0", "node.camera_frame:=test_cam")
    images = probe.collect(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    infos = probe.collect(CameraInfo, graph.CAMERA_INFO, m.SENSOR_QOS)
    probe.spin_until(lambda: len(images) >= 5 and len(infos) >= 5, 20.0, "5 camera frames")
    image, info = images[-1][1], infos[-1][1]
    assert (image.encoding, image.header.frame_id, info.header.frame_id) == \
        ("rgb8", "test_cam", "test_cam")
    pixels = m.image_to_rgb(image)
    assert pixels.shape == (32, 48, 3) and pixels.std() > 5, "a rendered scene, not a blank"
    assert (info.width, info.height) == (48, 32) and info.k[2] == 24.0 and info.k[5] == 16.0
    image_stamps = {m.time_to_seconds(i.header.stamp) for _, i in images}
    assert any(m.time_to_seconds(i.header.stamp) in image_stamps for _, i in infos)
    stamps = sorted(image_stamps)
    assert np.median(np.diff(stamps)) == pytest.approx(0.05, abs=0.011)


def test_a_position_command_moves_the_arm_to_the_commanded_joints(start_node, probe):
    start_sim(start_node, "node.task_enabled:=false")
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    wait_for_joints(probe, states)
    target = latest_qpos(states) + np.array([0.25, -0.2, 0.15, 0.2])
    pub = probe.node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                      m.RELIABLE_QOS)
    probe.spin_until(  # like a controller input: the same target, every control period
        lambda: np.max(np.abs(latest_qpos(states) - target)) < 0.01, 10.0,
        "the arm to reach the commanded joints",
        every=lambda: pub.publish(m.position_command_message(target)))


def test_a_trajectory_with_shuffled_joint_names_moves_the_right_joints(start_node, probe):
    start_sim(start_node, "node.task_enabled:=false")
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    wait_for_joints(probe, states)
    start = latest_qpos(states)
    goal = start + np.array([0.3, -0.1, 0.2, -0.25])  # a different change for every joint
    order = [2, 0, 3, 1]
    names = [JOINTS[i] for i in order]
    mid = (start + goal) / 2
    msg = m.trajectory_message(names, [0.4, 0.8], np.stack([mid[order], goal[order]]))
    pub = probe.node.create_publisher(JointTrajectory, graph.TRAJECTORY_COMMANDS,
                                      m.RELIABLE_QOS)
    probe.spin_until(lambda: np.max(np.abs(latest_qpos(states) - start)) > 0.02, 10.0,
                     "the trajectory to start", every=lambda: pub.publish(msg), period=0.5)
    probe.spin_until(lambda: np.max(np.abs(latest_qpos(states) - goal)) < 0.01, 30.0,
                     "the arm to reach the trajectory's last point")
    reached = len(states)
    wait_for_joints(probe, states, reached + 15)  # 0.3 s of simulation later it is still there
    for _, state in states[reached:]:
        np.testing.assert_allclose(m.joint_state_to_vector(state, JOINTS), goal, atol=0.01)


def test_task_mode_poses_seeded_goals_and_reports_each_result(start_node, probe):
    from world_model_planner.core import config as cfg
    from world_model_planner.core.data.collect import episode_seed
    from world_model_planner.core.sim.arm import ArmSim
    from world_model_planner.core.sim.reach import ReachTask

    # The first goal's clock starts on the first command, which the test sends once it hears
    # the simulator (task results are not latched); the command goes nowhere: at the clock's
    # start the arm is placed at rest at its start again.
    node = start_sim(start_node, "node.task_enabled:=true", "reach.episode_steps:=8",
                     "node.goals:=2", "node.seed:=7", "node.start_on_command:=true")
    goal_images = probe.collect(Image, graph.TASK_GOAL_IMAGE, m.LATCHED_QOS)
    goal_joints = probe.collect(JointState, graph.TASK_GOAL_JOINTS, m.LATCHED_QOS)
    results = probe.collect(String, graph.TASK_RESULT, m.RELIABLE_QOS)
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    probe.spin_until(lambda: goal_images and goal_joints and states, 30.0, "a latched goal")
    assert m.image_to_rgb(goal_images[-1][1]).shape == (64, 64, 3)
    assert tuple(goal_joints[-1][1].name) == JOINTS
    start_first_goal(probe, node, states, JOINTS)
    probe.spin_until(lambda: len(results) >= 2, 30.0, "two task results")
    reports = [json.loads(r.data) for _, r in results]
    assert [r["episode"] for r in reports] == [0, 1]
    for r in reports:  # nobody commands the arm, so it stays at its start, short of the goal
        assert r["success"] is False and r["steps"] == 8
        assert r["seconds"] == pytest.approx(0.8) and r["final_error_m"] > 0.03
    # episode i's goal is a function of (seed, i): the same as the core computes it
    simulation = cfg.load(cfg.SimulationConfig, SIM_PARAMS, node=graph.SIM_NODE)
    sim = ArmSim(simulation.sim)
    try:
        start, goal = ReachTask(sim, simulation.reach).sample_episode(
            np.random.default_rng(episode_seed(7, 1)))
    finally:
        sim.close()
    np.testing.assert_allclose(m.joint_state_to_vector(goal_joints[-1][1], JOINTS), goal,
                               atol=1e-12)
    # after the last goal no new one comes, but the arm keeps being simulated
    count = len(states)
    wait_for_joints(probe, states, count + 75)  # 1.5 s of simulation after the last result
    assert len(results) == 2
    np.testing.assert_allclose(latest_qpos(states), start, atol=0.02)
    assert "all 2 goals done" in node.output


def test_commands_sent_across_a_reset_do_not_move_the_next_start(start_node, probe):
    """A planner still answering the previous goal's last frame must not drag the arm placed at
    the next goal's start; that goal's clock starts once node.reset_hold is over."""
    from world_model_planner.core import config as cfg
    from world_model_planner.core.data.collect import episode_seed
    from world_model_planner.core.sim.arm import ArmSim
    from world_model_planner.core.sim.reach import ReachTask

    hold = 0.5
    # The first goal starts on the first command, so commands are flowing at the reset whenever
    # discovery completes.
    node = start_sim(start_node, "node.task_enabled:=true", "reach.episode_steps:=5",
                     "node.goals:=2", "node.seed:=7", f"node.reset_hold:={hold}",
                     "node.start_on_command:=true")
    goal_joints = probe.collect(JointState, graph.TASK_GOAL_JOINTS, m.LATCHED_QOS)
    results = probe.collect(String, graph.TASK_RESULT, m.RELIABLE_QOS)
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    position = probe.node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                           m.RELIABLE_QOS)
    simulation = cfg.load(cfg.SimulationConfig, SIM_PARAMS, node=graph.SIM_NODE)
    sim = ArmSim(simulation.sim)
    try:
        start, _ = ReachTask(sim, simulation.reach).sample_episode(
            np.random.default_rng(episode_seed(7, 1)))
        target = np.clip(start + 0.25, sim.robot.lower, sim.robot.upper)
    finally:
        sim.close()
    probe.spin_until(lambda: len(results) >= 2, 60.0, "both goals' results",
                     every=lambda: position.publish(m.position_command_message(target)),
                     period=0.02)
    # Latched with depth 1: a late subscriber gets only the second goal, posed at its reset.
    probe.spin_until(lambda: any(m.time_to_seconds(g.header.stamp) > 0 for _, g in goal_joints),
                     30.0, "the second goal")
    reset_at = max(m.time_to_seconds(g.header.stamp) for _, g in goal_joints)
    stamped = [(m.time_to_seconds(s.header.stamp), m.joint_state_to_vector(s, JOINTS))
               for _, s in states]
    during = [q for t, q in stamped if reset_at < t < reset_at + hold]
    after = [q for t, q in stamped if t > reset_at + hold + 0.3]
    assert len(during) >= 15 and after, (len(during), len(after))
    assert max(np.max(np.abs(q - start)) for q in during) < 0.01, "a command moved the new start"
    assert np.max(np.abs(after[-1] - start)) > 0.05, "commands after the hold must act"
    second = json.loads(results[-1][1].data)
    assert second["episode"] == 1 and second["steps"] == 5
    assert second["seconds"] == pytest.approx(0.5)
    probe.spin_until(lambda: "all 2 goals done" in node.output, 10.0, "the last log line")
    dropped = int(node.output.split("(")[-1].split(" commands planned before a reset")[0])
    assert dropped >= 10, node.output


def test_in_lockstep_a_command_acts_from_the_frame_it_answers(start_node, probe):
    """node.lockstep: simulation time stops at each frame until a command answers it, so the
    command acts for one whole period from the frame's instant, exactly as ArmSim.step does in
    `wmp collect` and `wmp eval`."""
    from world_model_planner.core import config as cfg
    from world_model_planner.core.sim.arm import ArmSim

    start_sim(start_node, "node.task_enabled:=false", "node.lockstep:=true")
    images = probe.collect(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    clock = probe.collect(Clock, graph.CLOCK, m.CLOCK_QOS)
    position = probe.node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                           m.RELIABLE_QOS)

    def stamps(messages: list) -> list[float]:
        return [m.time_to_seconds(msg.header.stamp) for _, msg in messages]

    probe.spin_until(lambda: stamps(images).count(0.0) >= 2, 30.0,
                     "the first frame, sent again while it waits for its command")
    assert max(m.time_to_seconds(c.clock) for _, c in clock) == 0.0, "time went on unanswered"
    simulation = cfg.load(cfg.SimulationConfig, SIM_PARAMS, node=graph.SIM_NODE)
    sim = ArmSim(simulation.sim)
    try:
        start = sim.reset()  # where the node's arm is at time zero: mid-range, at rest
        np.testing.assert_allclose(latest_qpos(states), start.qpos, atol=1e-9)
        command = start.qpos + np.array([0.1, -0.1, 0.12, 0.15])
        expected = sim.step(command, render=False).qpos
    finally:
        sim.close()
    probe.spin_until(lambda: any(abs(t - 0.1) < 1e-6 for t in stamps(states)), 30.0,
                     "the joint state of the next frame once the command arrived",
                     every=lambda: position.publish(m.position_command_message(command)),
                     period=0.2)
    at_frame = next(msg for _, msg in states if abs(m.time_to_seconds(msg.header.stamp) - 0.1)
                    < 1e-6)
    # the same to the bit in practice; a command acting one 10 ms tick late is 4.4 mrad off
    np.testing.assert_allclose(m.joint_state_to_vector(at_frame, JOINTS), expected, atol=1e-4)


@pytest.mark.parametrize("params, key", [
    (("sim.image_width:=-5",), "sim.image_width: must be >= 8, got -5"),
    (("perturbations.push.enabled:=true", "perturbations.push.link:=no_such_link"),
     "perturbations.push.link: 'no_such_link' is not a body of the scene"),
    (("node.camera_rate:=fast",), "node.camera_rate: expected float"),
])
def test_a_bad_parameter_stops_the_node_naming_it(start_node, params, key):
    node = start_sim(start_node, *params)
    try:
        code = node.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the node kept running with {params}:\n{node.output}")
    node.stop()
    assert code != 0
    assert key in node.output, node.output


def test_malformed_commands_are_dropped_and_the_node_stays_up(start_node, probe):
    node = start_sim(start_node, "node.task_enabled:=false")
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    wait_for_joints(probe, states)
    start = latest_qpos(states)
    position = probe.node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                           m.RELIABLE_QOS)
    trajectory = probe.node.create_publisher(JointTrajectory, graph.TRAJECTORY_COMMANDS,
                                             m.RELIABLE_QOS)
    unknown = m.trajectory_message(JOINTS + ("gripper",), [0.5], np.ones((1, 5)))
    backwards = m.trajectory_message(JOINTS, [1.0, 0.5], np.ones((2, 4)))

    def send_garbage() -> None:
        position.publish(Float64MultiArray(data=[0.1, 0.2, 0.3]))
        position.publish(Float64MultiArray(data=[0.1, float("nan"), 0.3, 0.4]))
        trajectory.publish(unknown)
        trajectory.publish(backwards)

    probe.spin_until(lambda: node.output.count("dropped a malformed message") >= 2, 30.0,
                     "the node to report dropped messages", every=send_garbage, period=0.3)
    wait_for_joints(probe, states, len(states) + 25)  # 0.5 s of simulation after the garbage
    assert node.proc.poll() is None, node.output
    assert np.max(np.abs(latest_qpos(states) - start)) < 0.01, "garbage must not move the arm"
    # one line per topic (throttled), with the first reason
    assert (f"dropped a malformed message on {graph.POSITION_COMMANDS}: position command has 3 "
            "values, expected 4") in node.output
    assert (f"dropped a malformed message on {graph.TRAJECTORY_COMMANDS}: unknown joint(s) "
            "['gripper']") in node.output
    target = start + 0.1
    probe.spin_until(lambda: np.max(np.abs(latest_qpos(states) - target)) < 0.01, 10.0,
                     "a valid command after the garbage to move the arm",
                     every=lambda: position.publish(m.position_command_message(target)))
