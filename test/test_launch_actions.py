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
"""What bringup.launch.py would start where it cannot start here (Gazebo, ros2_control, a
physical arm): its actions, built by the real launch and launch_ros without running anything.

Every node's command line comes from launch_ros's own substitution (the arguments after the
executable, since other packages' executables are not installed here), and Gazebo's start-up
chain is driven with launch's own events (ProcessExited, StateTransition). test_launch_testing.py
runs what can run here. Skipped, with the reason, where launch is not here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from world_model_planner import graph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import launch_env  # noqa: E402

FOLDERS = launch_env.launch_pythonpath()
if FOLDERS is None:
    pytest.skip(launch_env.unavailable_reason(), allow_module_level=True)
sys.path.extend(f for f in FOLDERS if f not in sys.path)  # after the venv, as a ROS install

from launch import LaunchContext  # noqa: E402
from launch.actions import IncludeLaunchDescription, LogInfo, RegisterEventHandler  # noqa: E402
from launch.events.process import ProcessExited  # noqa: E402
from launch.utilities import perform_substitutions  # noqa: E402
from launch_ros.actions import LifecycleNode, Node  # noqa: E402
from launch_ros.events.lifecycle import ChangeState, StateTransition  # noqa: E402
from lifecycle_msgs.msg import State, Transition, TransitionEvent  # noqa: E402

REAL = {"mode": "real", "confirm_real": "true"}


@pytest.fixture(scope="module")
def bringup() -> Any:
    """launch/bringup.launch.py as a module (as launch loads it), without writing bytecode."""
    spec = importlib.util.spec_from_file_location("bringup_launch", ROOT / graph.BRINGUP_LAUNCH)
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def plan(**arguments: str) -> graph.LaunchGraph:
    return graph.launch_graph(arguments, ROOT)


def command_line(node: Node) -> list[str]:
    """The node's command line after its executable, as launch_ros expands it to start it
    (once per Node: launch_ros writes parameter dictionaries to files as it does)."""
    context = LaunchContext()
    node._perform_substitutions(context)  # what Node.execute does first
    name = node.node_name.rsplit("/", 1)[-1]
    local = {"name": f"__node:={name}", "ns": f"__ns:={node.expanded_node_namespace}"}
    context.extend_locals({"ros_specific_arguments": local})
    return [perform_substitutions(context, part) for part in node.cmd[1:]]


def nodes(actions: list[Any]) -> dict[str, tuple[Node, dict[str, Any]]]:
    """The launch_ros Nodes among `actions` with their parsed command lines, by node name."""
    out = {}
    for action in actions:
        if isinstance(action, Node):
            line = parse(command_line(action))
            out[line["name"]] = (action, line)
    return out


def parse(line: list[str]) -> dict[str, Any]:
    """Arguments, node name, namespace, parameter files (temporary ones read back), remappings."""
    out: dict[str, Any] = {"arguments": line[:line.index("--ros-args")], "files": [],
                           "inline": {}, "remaps": [], "enclave": None}
    ros = line[line.index("--ros-args"):]
    for flag, value in zip(ros, ros[1:]):
        if flag == "-r" and value.startswith("__node:="):
            out["name"] = value.split(":=", 1)[1]
        elif flag == "-r" and value.startswith("__ns:="):
            out["namespace"] = value.split(":=", 1)[1]
        elif flag == "-r":
            out["remaps"].append(tuple(value.split(":=", 1)))
        elif flag == "--enclave":
            out["enclave"] = value
        elif flag == "--params-file" and Path(value).name.startswith("launch_params_"):
            (section,) = yaml.safe_load(Path(value).read_text()).values()
            out["inline"].update(section["ros__parameters"])
            os.unlink(value)
        elif flag == "--params-file":
            out["files"].append(value)
    return out


def check_node(started: tuple[Node, dict[str, Any]], spec: graph.NodeSpec,
               launch_plan: graph.LaunchGraph) -> None:
    """The Node runs spec's executable with spec's files, parameters, remappings and arguments,
    in the plan's namespace: what supervisor.py gives the same spec for `wmp run`."""
    node, line = started
    assert isinstance(node, LifecycleNode) == spec.lifecycle, spec.name
    assert (node.node_package, node.node_executable) == (spec.package, spec.executable)
    namespace = "/" + launch_plan.options.namespace.strip("/")
    assert (line["name"], line["namespace"]) == (spec.name, namespace)
    assert line["files"] == launch_plan.parameter_paths(spec)
    assert line["inline"] == spec.parameters  # strings stay strings (a URDF, '')
    assert line["remaps"] == list(spec.remappings)
    assert line["arguments"] == list(spec.arguments)
    expected = launch_plan.ros_arguments(spec)
    assert line["enclave"] == (expected[1] if expected else None)


def test_declared_arguments_are_graphs(bringup):
    declared = bringup.generate_launch_description().get_launch_arguments()
    context = LaunchContext()
    assert [(d.name, perform_substitutions(context, d.default_value)) for d in declared] == [
        (a.name, a.default) for a in graph.LAUNCH_ARGUMENTS]
    for action, argument in zip(declared, graph.LAUNCH_ARGUMENTS):
        assert action.description.startswith(argument.description)  # launch adds the choices
        assert action.choices == (list(argument.choices) if argument.choices else None)


def test_mujoco_nodes_are_the_graphs(bringup):
    launch_plan = plan(namespace="arm1", enclave="/world_model_planner")
    started = nodes(bringup.graph_actions(launch_plan))
    assert list(started) == [graph.PLANNER_NODE, graph.SIM_NODE]
    for spec in launch_plan.nodes:
        check_node(started[spec.name], spec, launch_plan)


@pytest.mark.parametrize("robot", ["ur5e", "fr3"])
def test_real_arm_starts_only_the_planner_on_the_drivers_active_controller(bringup, robot):
    """ur_robot_driver and franka_bringup publish robot_description and activate a trajectory
    controller: the defaults start no second robot_state_publisher and command that one."""
    launch_plan = plan(robot=robot, **REAL)
    actions = bringup.graph_actions(launch_plan)
    started = nodes(actions)
    assert list(started) == [graph.PLANNER_NODE]
    check_node(started[graph.PLANNER_NODE], launch_plan.planner, launch_plan)
    controller = {"ur5e": "scaled_joint_trajectory_controller", "fr3": "fr3_arm_controller"}
    assert launch_plan.planner.remappings == (
        (graph.TRAJECTORY_COMMANDS, f"{controller[robot]}/joint_trajectory"),)
    assert launch_plan.planner.parameters["command_interface"] == "trajectory"
    said = " ".join(a.msg[0].text for a in actions if isinstance(a, LogInfo))
    assert "ros2 lifecycle set /planner configure" in said


def handlers(actions: list[Any]) -> list[Any]:
    return [a.event_handler for a in actions if isinstance(a, RegisterEventHandler)]


def exited(action: Node, returncode: int) -> ProcessExited:
    return ProcessExited(action=action, name=action.node_executable, cmd=[], cwd=None, env=None,
                         pid=1, returncode=returncode)


def fire(registered: list[Any], event: Any) -> list[Any]:
    """What launch does with `event`: the entities of every handler that matches it."""
    out: list[Any] = []
    for handler in registered:
        if handler.matches(event):
            out += list(handler.handle(event, LaunchContext()) or [])
    return out


def test_gazebo_start_up_chain_runs_on_launchs_own_events(bringup):
    launch_plan = plan(mode="gazebo", headless="true")
    gz = launch_plan.gazebo
    actions = bringup.graph_actions(launch_plan)
    started = nodes(actions)
    assert set(started) == {graph.PLANNER_NODE, graph.ROBOT_STATE_PUBLISHER, graph.GZ_SPAWN_NODE,
                            graph.GZ_BRIDGE_NODE}
    for spec in (*launch_plan.nodes, gz.spawn, gz.bridge):
        check_node(started[spec.name], spec, launch_plan)
    (include,) = [a for a in actions if isinstance(a, IncludeLaunchDescription)]
    assert "PathJoinSubstitution" in include.launch_description_source.location
    assert [part.describe() for part in bringup.simulator_launch_file(gz).substitutions] == [
        f"FindPackageShare(pkg='{gz.package}')", f"'{gz.launch_file}'"]
    assert list(include.launch_arguments) == list(gz.launch_arguments)

    registered = handlers(actions)
    step = started[graph.GZ_SPAWN_NODE][0]
    for spec in gz.spawners:  # spawn -> joint_state_broadcaster -> command controller
        (stopped,) = fire(registered, exited(step, 1))
        assert isinstance(stopped, LogInfo)  # a failed step ends the chain, saying where
        (step,) = fire(registered, exited(step, 0))
        check_node((step, parse(command_line(step))), spec, launch_plan)
    (configure,) = fire(registered, exited(step, 0))
    planner = started[graph.PLANNER_NODE][0]
    assert isinstance(configure.event, ChangeState)
    assert configure.event.transition_id == Transition.TRANSITION_CONFIGURE
    assert configure.event.lifecycle_node_matcher(planner)
    assert not configure.event.lifecycle_node_matcher(step)
    configured = TransitionEvent(start_state=State(label="configuring"),
                                 goal_state=State(label="inactive"))
    (activate,) = fire(registered, StateTransition(action=planner, msg=configured))
    assert activate.event.transition_id == Transition.TRANSITION_ACTIVATE
    assert activate.event.lifecycle_node_matcher(planner)
    deactivated = TransitionEvent(start_state=State(label="deactivating"),
                                  goal_state=State(label="inactive"))
    assert fire(registered, StateTransition(action=planner, msg=deactivated)) == []
