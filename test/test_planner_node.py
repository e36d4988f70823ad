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
"""The planner node over real DDS: lifecycle, rate, goals, joint order, faults and bad input.

The planner runs as its own process with the shipped model; the simulator runs as its own
process where the test needs the world to respond. The test process only observes, publishes
goals and inputs, and calls the lifecycle services, as an operator or a driver would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                            "'world_model_planner[ros]'); the node integration tests need it")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from scenes import reach_episode  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, Float64MultiArray  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.control import command_limits  # noqa: E402
from world_model_planner.core.paths import share_path  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

pytestmark = pytest.mark.integration

JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")
PLANNER_PARAMS = str(share_path(graph.PLANNER_PARAMS))
SIM_PARAMS = str(share_path(graph.SIM_PARAMS))
MODEL = os.environ.get("WMP_TEST_MODEL", str(share_path("models", "wmp_arm_reach")))


@pytest.fixture(scope="module")
def scene():
    """Frames and joint states of a real simulated arm, and a goal, rendered in-process."""
    sim, _, obs, goal = reach_episode(11)
    sim.close()
    return obs, goal


def level_of(status) -> int:
    """DiagnosticStatus.level (a byte in rclpy) as an int: 0 OK, 1 WARN, 2 ERROR."""
    level = status.level
    return int.from_bytes(level, "little") if isinstance(level, bytes) else int(level)


def planner_values(diagnostics) -> list[dict[str, str]]:
    """The planner's diagnostic values, oldest first."""
    return [{kv.key: kv.value for kv in s.values} for _, d in diagnostics for s in d.status
            if "planner" in s.name]


def last_number(diagnostics, key: str) -> float:
    values = [float(v[key]) for v in planner_values(diagnostics) if key in v]
    return values[-1] if values else -1.0


class SimTime:
    """A camera and a robot driver on simulation time the test advances: each step publishes
    /clock, then a joint state and a frame of that instant (as the mujoco_sim node does)."""

    def __init__(self, probe, obs) -> None:
        self.obs = obs
        self.clock = probe.node.create_publisher(Clock, graph.CLOCK, m.CLOCK_QOS)
        self.image = probe.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
        self.joints = probe.node.create_publisher(JointState, graph.JOINT_STATES,
                                                  m.RELIABLE_QOS)
        self.t = 100.0

    def advance(self, dt: float = 0.1) -> None:
        self.t = round(self.t + dt, 6)
        stamp = m.seconds_to_time(self.t)
        self.clock.publish(Clock(clock=stamp))
        self.joints.publish(m.joint_state_message(JOINTS, self.obs.qpos, self.obs.qvel,
                                                  stamp=stamp))
        self.image.publish(m.rgb_to_image(self.obs.image, stamp=stamp))


def start_planner(start_node, *params: str, remaps: tuple = ()):
    return start_node("planner_node", f"planner.model:={MODEL}", *params,
                      params_file=PLANNER_PARAMS, remaps=remaps)


def lifecycle(probe, name: str = graph.PLANNER_NODE):
    change = probe.node.create_client(ChangeState, f"/{name}/change_state")
    get = probe.node.create_client(GetState, f"/{name}/get_state")

    def transition(tid: int) -> bool:
        return probe.call(change, ChangeState.Request(transition=Transition(id=tid)),
                          timeout=60).success

    def state() -> str:
        return probe.call(get, GetState.Request()).current_state.label

    return transition, state


def feeder(probe, obs, names=JOINTS, q=None):
    """Publishes the arm's frame and joint state like a camera driver and a robot driver."""
    image_pub = probe.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    joints_pub = probe.node.create_publisher(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    order = [JOINTS.index(n) for n in names]
    q = obs.qpos if q is None else q

    def publish() -> None:
        stamp = probe.node.get_clock().now().to_msg()
        image_pub.publish(m.rgb_to_image(obs.image, stamp=stamp))
        joints_pub.publish(m.joint_state_message(list(names), np.asarray(q)[order],
                                                 np.asarray(obs.qvel)[order], stamp=stamp))
    return publish


def test_lifecycle_nothing_before_activation_then_commands_at_rate(start_node, probe, scene):
    """On simulation time the test advances (use_sim_time), so the rate is exact whatever the
    machine's load: one command per control period once active, none before, one hold after."""
    obs, goal = scene
    planner = start_planner(start_node, "use_sim_time:=true")
    commands = probe.collect(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    diagnostics = probe.collect(DiagnosticArray, graph.DIAGNOSTICS, 10)
    sim = SimTime(probe, obs)
    goal_pub = probe.node.create_publisher(JointState, f"/{graph.PLANNER_NODE}/goal_joints",
                                           m.LATCHED_QOS)
    goal_pub.publish(m.joint_state_message(JOINTS, goal.joints))
    transition, state = lifecycle(probe)
    assert state() == "unconfigured"
    topic = "/" + graph.POSITION_COMMANDS
    assert commands == [] and probe.node.count_publishers(topic) == 0, "a publisher unconfigured"
    assert transition(Transition.TRANSITION_CONFIGURE)
    assert state() == "inactive"
    probe.spin_until(lambda: probe.node.count_publishers(topic) == 1, 30,
                     "the planner's command publisher")
    probe.spin_until(lambda: last_number(diagnostics, "frames_received") >= 10, 60,
                     "the inactive planner to report 10 frames", every=sim.advance, period=0.05)
    assert commands == [], "commanded while inactive"

    assert transition(Transition.TRANSITION_ACTIVATE)
    assert state() == "active"
    for k in range(40):  # each frame waits for its command, like the simulator in lockstep
        sent = len(commands)
        sim.advance()
        probe.spin_until(lambda: len(commands) > sent, 60, f"the command answering frame {k}")
    assert len(commands) == 40, "one command per frame at the control rate"

    def rates() -> list[float]:  # once the planner has stepped on 25 frames
        return [float(v["loop_rate_hz"]) for v in planner_values(diagnostics)
                if "loop_rate_hz" in v and sum(int(n) for key, n in v.items()
                                               if key.startswith("steps_")) >= 25]
    probe.spin_until(rates, 60, "diagnostics with the loop rate")
    assert rates()[0] == pytest.approx(10.0, abs=0.05), "one tick per 0.1 s of the node's clock"
    q = np.array(commands[-1][1].data)
    assert q.shape == (4,) and np.all(np.isfinite(q))

    active = len(commands)
    assert transition(Transition.TRANSITION_DEACTIVATE)
    probe.spin_until(lambda: len(commands) == active + 1, 30, "the hold on deactivate")
    frames = last_number(diagnostics, "frames_received")
    probe.spin_until(lambda: last_number(diagnostics, "frames_received") >= frames + 10, 60,
                     "10 more frames while inactive", every=sim.advance, period=0.05)
    assert len(commands) == active + 1, "commands after the hold on deactivate"
    assert transition(Transition.TRANSITION_CLEANUP)
    assert state() == "unconfigured"
    assert planner.proc.poll() is None


def test_shuffled_joint_state_names_still_command_the_right_joints(start_node, probe, scene):
    obs, _ = scene
    start_planner(start_node, "autostart:=true")
    commands = probe.collect(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    shuffled = ("elbow_pitch", "wrist_pitch", "base_yaw", "shoulder_pitch")
    publish = feeder(probe, obs, names=shuffled)
    target = obs.qpos.copy()
    target[JOINTS.index("elbow_pitch")] += 0.6  # only the elbow must move
    goal_pub = probe.node.create_publisher(JointState, f"/{graph.PLANNER_NODE}/goal_joints",
                                           m.LATCHED_QOS)
    goal_pub.publish(m.joint_state_message(list(reversed(JOINTS)), target[::-1]))
    probe.spin_until(lambda: len(commands) >= 8, 60, "commands", every=publish, period=0.02)
    delta = np.array(commands[-1][1].data) - obs.qpos
    elbow = JOINTS.index("elbow_pitch")
    assert delta[elbow] > 0.02, delta
    assert abs(delta[elbow]) >= np.abs(np.delete(delta, elbow)).max(), delta


def test_estop_latches_a_hold_until_released(start_node, probe, scene):
    obs, goal = scene
    start_planner(start_node, "autostart:=true")
    commands = probe.collect(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    publish = feeder(probe, obs)
    goal_pub = probe.node.create_publisher(JointState, f"/{graph.PLANNER_NODE}/goal_joints",
                                           m.LATCHED_QOS)
    goal_pub.publish(m.joint_state_message(JOINTS, goal.joints))
    estop = probe.node.create_publisher(Bool, f"/{graph.PLANNER_NODE}/estop", m.RELIABLE_QOS)
    diagnostics = probe.collect(DiagnosticArray, graph.DIAGNOSTICS, 10)
    probe.spin_until(lambda: len(commands) >= 5, 60, "commands", every=publish, period=0.02)
    estop.publish(Bool(data=True))
    probe.spin_until(lambda: any(v.get("estop") == "True" for v in planner_values(diagnostics)),
                     30, "diagnostics reporting the e-stop", every=publish, period=0.02)
    held_from = len(commands)
    probe.spin_until(lambda: len(commands) >= held_from + 10, 60, "hold commands",
                     every=publish, period=0.02)
    held = np.array([c.data for _, c in commands[held_from + 2:]])  # past any braking
    assert np.ptp(held, axis=0).max() < 1e-9, "the arm moved while the e-stop was engaged"
    estop.publish(Bool(data=False))
    moving_from = len(commands)
    probe.spin_until(lambda: len(commands) >= moving_from + 10, 60, "commands after release",
                     every=publish, period=0.02)
    after = np.array([c.data for _, c in commands[moving_from:]])
    assert np.ptp(after, axis=0).max() > 1e-4, "planning did not resume after release"


def test_a_tampered_model_fails_configure_and_the_node_stays_up(start_node, probe, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    data = bytearray((copy / "encoder.onnx").read_bytes())
    data[100] ^= 0x55
    (copy / "encoder.onnx").write_bytes(bytes(data))
    planner = start_node("planner_node", f"planner.model:={copy}", params_file=PLANNER_PARAMS)
    transition, state = lifecycle(probe)
    assert not transition(Transition.TRANSITION_CONFIGURE)
    assert state() == "unconfigured"
    planner.wait_for_line("encoder.onnx: sha256")
    assert planner.proc.poll() is None


def test_a_bad_parameter_file_stops_the_node_naming_the_key(tmp_path, ros_domain):
    bad = tmp_path / "planner.yaml"
    bad.write_text("planner:\n  ros__parameters:\n    planner:\n      optimizer:\n"
                   "        samples: -4\n")
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.nodes.planner_node",
                           "--ros-args", "--params-file", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "planner.optimizer.samples" in proc.stderr + proc.stdout


def test_the_simulated_arm_reaches_a_goal_under_wmp_run(ros_domain, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "run", "--mode",
                           "mujoco", "--goals", "3", "--seed", "3", "--json", "--timeout", "120",
                           "--log-dir", str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["goals"] == 3
    assert summary["successes"] >= 1, summary
    assert 8.0 <= summary["control_rate_hz"] <= 12.0


def test_killed_simulator_makes_the_planner_hold_then_resume(start_node, probe):
    sim = start_node("mujoco_sim_node", "node.task_enabled:=true", "node.seed:=5",
                     params_file=SIM_PARAMS)
    planner = start_planner(start_node, "autostart:=true",
                            remaps=((graph.GOAL_IMAGE, graph.TASK_GOAL_IMAGE),))
    commands = probe.collect(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    diagnostics = probe.collect(DiagnosticArray, graph.DIAGNOSTICS, 10)
    states = probe.collect(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    probe.spin_until(lambda: len(commands) >= 10, 60, "commands from the running loop")
    sim.kill()
    killed = len(commands)

    def stale() -> list[dict[str, str]]:  # the planner's values while it reports stale data
        return [v for _, d in diagnostics for st in d.status if "planner" in st.name
                and level_of(st) == 2 and "silent" in st.message
                for v in [{kv.key: kv.value for kv in st.values}]]
    # A controlled stop of the last command, then silence: the controller keeps the last
    # command, and nothing is computed for an arm whose position is unknown. Two reports of
    # stale data with the same count of commands sent show the silence.
    probe.spin_until(lambda: len(stale()) >= 2 and stale()[-1]["commands_sent"]
                     == stale()[-2]["commands_sent"], 60, "the planner to hold and fall silent")
    # Two periods of joint-state timeout planning on the last data, a few braking steps.
    assert len(commands) - killed <= 10, "kept commanding an arm it no longer hears"
    assert all(np.all(np.isfinite(c.data)) for _, c in commands[killed:])

    before_restart = len(states)
    # One goal, which waits for the first command: what the planner's first commands do to the
    # restarted arm is seen whenever discovery completes, and no reset to a next goal follows.
    restarted = start_node("mujoco_sim_node", "node.task_enabled:=true", "node.seed:=6",
                           "node.start_on_command:=true", "node.goals:=1",
                           params_file=SIM_PARAMS)
    restarted.wait_for_line("simulating", timeout=30)
    seen = len(diagnostics)
    probe.spin_until(lambda: any("planner" in st.name and st.message.startswith("active")
                                 for _, d in diagnostics[seen:] for st in d.status), 60,
                     "the planner to report fresh data again")
    mark = len(commands)
    probe.spin_until(lambda: len(commands) >= mark + 20, 60, "commands after the restart")
    moving = np.stack([np.array(c.data) for _, c in commands[mark:]])
    assert np.ptp(moving, axis=0).max() > 1e-3, "the planner did not resume"
    assert planner.proc.poll() is None
    # The restarted arm starts elsewhere; a hold re-sending the pre-crash command made it jump
    # there (0.34 rad in 90 ms). No 0.1 s moves it further than one velocity-limited command
    # step (and some servo lag).
    after = [s for _, s in states[before_restart:]]
    assert len(after) >= 10, "too few joint states of the restarted arm"
    q = np.stack([m.joint_state_to_vector(s, JOINTS) for s in after])
    moved = np.abs(q[5:] - q[:-5])  # 50 Hz joint states: 0.1 s apart
    step = command_limits(Robot.load()).max_velocity * 0.1
    assert np.all(moved <= 1.5 * step), f"the restarted arm jumped: {moved.max(axis=0)}"
