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
"""Malformed input over DDS: every subscribed topic of the planner gets 1,000+ generated bad
messages. Each is dropped with a log line naming the problem, nothing is computed from it, and
the node stays up and keeps reporting."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                            "'world_model_planner[ros]'); the node integration tests need it")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scenes import reach_episode  # noqa: E402

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.paths import share_path  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

pytestmark = pytest.mark.integration

JOINTS = ["base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch"]
LOWER = np.array([-2.8, -1.6, -2.5, -2.0])
UPPER = -LOWER
PER_TOPIC = 1000
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
MODEL = os.environ.get("WMP_TEST_MODEL", str(share_path("models", "wmp_arm_reach")))

BAD_FLOATS = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e300, -1e300])
ANY_FLOATS = st.one_of(BAD_FLOATS, st.floats(-10, 10))


def image_is_valid(enc: str, h: int, w: int, step: int, size: int) -> bool:
    """sensor_msgs/Image consistency, from its definition (not from our decoder): step is the
    full row length in bytes, so rows may be padded, and the data holds exactly height rows.
    Encoding names are matched without case, as our decoder is lenient there."""
    channels = CHANNELS.get(enc.lower())
    return (channels is not None and h > 0 and w > 0 and step >= w * channels
            and size == h * step)


@st.composite
def bad_images(draw: st.DrawFn) -> Image:
    enc = draw(st.sampled_from(list(CHANNELS) + ["16UC1", "yuv422", "jpeg", "", "RGB8", "x" * 70]))
    h = draw(st.one_of(st.integers(0, 8), st.sampled_from([64, 480, 100000, 2 ** 31 - 1])))
    w = draw(st.one_of(st.integers(0, 8), st.sampled_from([64, 640, 100000, 2 ** 31 - 1])))
    step = draw(st.one_of(st.integers(0, 64), st.just(w * CHANNELS.get(enc.lower(), 3))))
    size = draw(st.one_of(st.integers(0, 300), st.just(h * step if h * step < 50000 else 7)))
    if image_is_valid(enc, h, w, step, size):
        size += 1  # keep every generated message malformed
    msg = Image(encoding=enc, height=h, width=w, step=step % 2 ** 32)
    msg.data = bytes(draw(st.binary(min_size=size, max_size=size)))
    return msg


@st.composite
def bad_joint_states(draw: st.DrawFn) -> JointState:
    names = draw(st.lists(st.sampled_from(JOINTS + ["gripper", "", "base_yaw "]), max_size=6))
    positions = draw(st.lists(ANY_FLOATS, max_size=6))
    # JointState (sensor_msgs) pairs names and positions one to one; extra joints, such as a
    # gripper, are legal and ignored. A message that would be usable gets a bad value in one
    # of our joints, so every generated message is malformed for this arm.
    usable = (len(names) == len(positions) and len(set(names)) == len(names)
              and set(JOINTS) <= set(names)
              and all(np.isfinite(positions[names.index(j)]) for j in JOINTS))
    if usable:
        positions[names.index(JOINTS[draw(st.integers(0, 3))])] = draw(BAD_FLOATS)
    return JointState(name=names, position=positions,
                      velocity=draw(st.lists(ANY_FLOATS, max_size=6)))


@st.composite
def bad_goal_joints(draw: st.DrawFn) -> JointState:
    kind = draw(st.sampled_from(["outside", "nan", "names"]))
    q = [draw(st.floats(lo, hi)) for lo, hi in zip(LOWER, UPPER)]
    names = list(JOINTS)
    if kind == "outside":
        i = draw(st.integers(0, 3))
        q[i] = draw(st.floats(UPPER[i] + 0.01, 100.0)) * draw(st.sampled_from([1, -1]))
    elif kind == "nan":
        q[draw(st.integers(0, 3))] = draw(BAD_FLOATS)
    else:
        names = draw(st.sampled_from([JOINTS[:3], JOINTS + ["x"], ["a", "b", "c", "d"],
                                      [JOINTS[0]] * 4]))
        q = q[: len(names)] + [0.0] * (len(names) - len(q))
    return JointState(name=names, position=q)


@st.composite
def bad_goal_poses(draw: st.DrawFn) -> PoseStamped:
    msg = PoseStamped()
    kind = draw(st.sampled_from(["nan", "far", "frame"]))
    xyz = [draw(st.floats(-0.3, 0.3)) for _ in range(3)]
    if kind == "nan":
        xyz[draw(st.integers(0, 2))] = draw(BAD_FLOATS)
        msg.header.frame_id = "base_link"
    elif kind == "far":
        xyz = [draw(st.floats(1.0, 1e6)) * draw(st.sampled_from([1, -1])) for _ in range(3)]
        msg.header.frame_id = "base_link"
    else:
        msg.header.frame_id = draw(st.sampled_from(["map", "camera", "world ", "odom"]))
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = xyz
    return msg


@pytest.fixture
def running(start_node, probe):
    """An active planner with a goal, fed good frames and joint states by `feed`."""
    sim, _, obs, goal = reach_episode(2)
    goal_q = goal.joints
    sim.close()
    planner = start_node("planner_node", f"planner.model:={MODEL}", "autostart:=true",
                         params_file=str(share_path(graph.PLANNER_PARAMS)))
    commands = probe.collect(Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
    diagnostics = probe.collect(DiagnosticArray, graph.DIAGNOSTICS, 10)
    image_pub = probe.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    joints_pub = probe.node.create_publisher(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    goal_pub = probe.node.create_publisher(JointState, f"/{graph.PLANNER_NODE}/goal_joints",
                                           m.LATCHED_QOS)
    goal_pub.publish(m.joint_state_message(JOINTS, goal_q))

    def feed(image: bool = True, joints: bool = True) -> None:
        stamp = probe.node.get_clock().now().to_msg()
        if image:
            image_pub.publish(m.rgb_to_image(obs.image, stamp=stamp))
        if joints:
            joints_pub.publish(m.joint_state_message(JOINTS, obs.qpos, obs.qvel, stamp=stamp))

    probe.spin_until(lambda: len(commands) >= 5, 90, "commands from the planner", every=feed,
                     period=0.03)
    return planner, commands, diagnostics, feed


def blast(probe, publisher, strategy, feed, per_second: float = 300.0) -> int:
    """Publish PER_TOPIC distinct messages hypothesis draws from `strategy`, paced at
    `per_second`, feeding good data as `feed` says. One hypothesis example per message keeps
    each draw small (a single example cannot hold a thousand images)."""
    sent = 0
    next_feed = 0.0

    @settings(max_examples=PER_TOPIC, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(msg=strategy)
    def publish_one(msg) -> None:
        nonlocal sent, next_feed
        publisher.publish(msg)
        sent += 1
        now = time.monotonic()
        if now >= next_feed:
            feed()
            next_feed = now + 0.03
        probe.executor.spin_once(timeout_sec=1.0 / per_second)

    publish_one()
    return sent


def last_counter(diagnostics, key: str) -> int:
    for _, array in reversed(diagnostics):
        for status in array.status:
            for kv in status.values:
                if kv.key == key:
                    return int(kv.value)
    return 0


def held(commands, since: int) -> np.ndarray:
    """The commands received from index `since` on; the planner must have kept publishing
    (it holds when its inputs are bad, it never goes silent)."""
    after = [np.array(c.data) for _, c in commands[since:]]
    assert len(after) >= 8, "the planner stopped publishing"
    return np.stack(after)


def test_every_topic_survives_a_thousand_malformed_messages(running, probe):
    planner, commands, diagnostics, feed = running

    # Joint states: only bad ones arrive; the watchdog must hold the arm, never follow them.
    # Without a good joint state the planner brakes the last command to rest within the
    # watchdog's timeout and a few steps, then sends nothing (the controller keeps the last
    # command); the blast lasts seconds, whatever the machine's load.
    joints_pub = probe.node.create_publisher(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
    start = len(commands)
    assert blast(probe, joints_pub, bad_joint_states(), lambda: feed(joints=False)) >= PER_TOPIC
    cmds = [np.array(c.data) for _, c in commands[start:]]
    assert len(cmds) <= 10, "kept commanding without a joint state"
    assert all(np.all(np.isfinite(c)) for c in cmds)

    # The hold starts within the watchdog's timeout and a few braking steps; the blast lasts
    # seconds, so the last commands of each blast are the hold, whatever the machine's load.

    # Camera: only bad frames arrive; again a hold, from the last good joint state.
    image_pub = probe.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    start = len(commands)
    assert blast(probe, image_pub, bad_images(), lambda: feed(image=False)) >= PER_TOPIC
    cmds = held(commands, start)
    assert np.all(np.isfinite(cmds)) and np.ptp(cmds[-5:], axis=0).max() < 1e-9

    # Goals: good data flows, bad goals must never replace the goal.
    for topic, msg_type, strategy, qos in (
            (f"/{graph.PLANNER_NODE}/goal_joints", JointState, bad_goal_joints(), m.LATCHED_QOS),
            (f"/{graph.PLANNER_NODE}/goal_pose", PoseStamped, bad_goal_poses(), m.RELIABLE_QOS),
            (f"/{graph.PLANNER_NODE}/goal_image", Image, bad_images(), m.LATCHED_QOS)):
        pub = probe.node.create_publisher(msg_type, topic, qos)
        before = sum("new goal" in line for line in planner.lines)
        assert blast(probe, pub, strategy, feed) >= PER_TOPIC, topic
        assert sum("new goal" in line for line in planner.lines) == before, topic

    # Still up, still reporting, every problem counted and named in the log.
    probe.spin_until(lambda: last_counter(diagnostics, "dropped_messages") >= 2000, 30,
                     "diagnostics counting the dropped messages", every=feed, period=0.03)
    assert planner.proc.poll() is None
    text = planner.output
    for what in ("dropped joint state", "dropped image", "dropped goal joints",
                 "dropped goal pose", "dropped goal image"):
        assert what in text, f"no log line for {what}"
    cmds = held(commands, len(commands) - 10)
    assert np.all(cmds >= LOWER) and np.all(cmds <= UPPER)
