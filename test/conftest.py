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
"""Shared fixtures. Rendering is headless (EGL) in every test."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ros_harness


@pytest.fixture(scope="session")
def robot():
    from world_model_planner.core.robot import Robot

    return Robot.load()


@pytest.fixture
def ros_domain(monkeypatch: pytest.MonkeyPatch):
    """A ROS domain no other process on this machine uses meanwhile (a lock per id, see
    ros_harness.PrivateDomain), with localhost-only discovery, for this test and its children."""
    from ros_harness import PrivateDomain

    domain = PrivateDomain()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain.id))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("MUJOCO_GL", os.environ.get("MUJOCO_GL", "egl"))
    yield domain.id
    domain.release()


@pytest.fixture
def start_node(ros_domain: int):
    """start(module, *params, params_file=..., remaps=()) -> Child; all stopped afterwards."""
    from ros_harness import Child, node_command

    children: list = []

    def start(module: str, *params: str, params_file: str | None = None,
              remaps: tuple = ()) -> Child:
        children.append(Child(node_command(module, *params, params_file=params_file,
                                           remaps=remaps)))
        return children[-1]

    yield start
    for child in children:
        child.stop()


@pytest.fixture
def probe(ros_domain: int):
    pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                        "'world_model_planner[ros]'); the integration tests need it")
    from ros_harness import Probe

    p = Probe(ros_domain)
    yield p
    p.close()


@pytest.fixture(scope="module")
def sim():
    from world_model_planner.core.sim.arm import ArmSim

    arm = ArmSim()
    yield arm
    arm.close()
