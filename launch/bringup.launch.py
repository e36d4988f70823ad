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
"""Bring up the world-model planner against the embedded MuJoCo arm, Gazebo or a physical arm.

    ros2 launch world_model_planner bringup.launch.py mode:=mujoco|gazebo|real [robot:=...]

Which nodes run, with which executables, parameter files, parameters and remappings, is decided by
world_model_planner/graph.py (`graph.launch_graph`, which calls `graph.build`, the same function
`wmp run` uses). This file only turns those NodeSpecs into launch_ros actions and wires the order of
Gazebo's start-up with event handlers, so the launch file and `wmp run` cannot drift apart; a test
holds this file to that (no node, file or topic names of its own).

mujoco: the embedded simulator and the planner, which configures and activates itself.
gazebo: Gazebo with description/worlds/reach.sdf, the arm spawned from robot_description, the
        ros_gz bridge (clock, camera), joint_state_broadcaster then the command controller, then the
        planner is configured and activated; use_sim_time everywhere.
real:   the planner against the arm's own driver (and robot_state_publisher where the robot
        config says the driver runs none); refuses to start without confirm_real:=true, and
        leaves the planner for an operator to activate.

Before any action is returned, graph.preflight refuses what would fail once running (a model
trained on another arm, a package that is not installed), so a refused launch starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.action import Action
from launch.actions import (DeclareLaunchArgument, EmitEvent, IncludeLaunchDescription, LogInfo,
                            OpaqueFunction, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.events import matches_action
from launch.events.process import ProcessExited
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from world_model_planner import graph


def generate_launch_description() -> LaunchDescription:
    """One DeclareLaunchArgument per graph.LAUNCH_ARGUMENTS entry, then the graph itself, built
    at launch time (OpaqueFunction) because which nodes exist depends on the arguments."""
    declared = [DeclareLaunchArgument(arg.name, default_value=arg.default,
                                      description=arg.description,
                                      choices=list(arg.choices) if arg.choices else None)
                for arg in graph.LAUNCH_ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=launch_setup)])


def launch_setup(context: LaunchContext) -> list[Action]:
    """The actions of the graph for the given arguments. graph.LaunchRefused (mode:=real without
    confirm_real:=true, a model trained on another arm, a package not installed, ...) propagates:
    ros2 launch prints its message and exits non-zero before anything has started."""
    values = {arg.name: LaunchConfiguration(arg.name).perform(context)
              for arg in graph.LAUNCH_ARGUMENTS}
    plan = graph.launch_graph(values, get_package_share_directory(graph.PACKAGE))
    graph.preflight(plan)
    return graph_actions(plan)


def graph_actions(plan: graph.LaunchGraph) -> list[Action]:
    """The plan as launch actions: what it says to the user, its nodes, Gazebo's chain."""
    actions: list[Action] = [LogInfo(msg=plan.summary())]
    actions += [LogInfo(msg=note) for note in plan.notes]
    started = {spec.name: node_action(spec, plan) for spec in plan.nodes + plan.extra}
    actions += list(started.values())
    if plan.gazebo is not None:
        actions += gazebo_actions(plan, plan.gazebo, started[graph.PLANNER_NODE])
    return actions


def node_action(spec: graph.NodeSpec, plan: graph.LaunchGraph) -> Node:
    """A NodeSpec as a launch_ros Node (LifecycleNode for lifecycle nodes), mapped the way
    supervisor.py maps it for `wmp run`: parameter files from the share folder first, then the
    spec's own parameters, then its remappings and arguments."""
    parameters: list[Any] = list(plan.parameter_paths(spec))
    if spec.parameters:
        # Strings stay strings: launch_ros would otherwise parse them as YAML (a URDF, '', 'true').
        parameters.append({name: ParameterValue(value, value_type=str)
                           if isinstance(value, str) else value
                           for name, value in spec.parameters.items()})
    kind = LifecycleNode if spec.lifecycle else Node
    return kind(package=spec.package, executable=spec.executable, name=spec.name,
                namespace=plan.options.namespace, parameters=parameters,
                remappings=list(spec.remappings), arguments=list(spec.arguments),
                ros_arguments=plan.ros_arguments(spec), respawn=spec.respawn, output="screen")


def gazebo_actions(plan: graph.LaunchGraph, gazebo: graph.GazeboGraph,
                   planner: LifecycleNode) -> list[Action]:
    """Gazebo, then in order once each step has exited successfully: spawn the arm, spawn
    joint_state_broadcaster, spawn the command controller, configure and activate the planner (as
    ros2_control_demos chain their spawners; the controller manager exists only once the arm is
    in Gazebo, and the planner must not command a controller that is not active yet)."""
    simulator = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(simulator_launch_file(gazebo)),
        launch_arguments=list(gazebo.launch_arguments))
    spawn = node_action(gazebo.spawn, plan)
    chain = [spawn] + [node_action(spec, plan) for spec in gazebo.spawners]
    actions: list[Action] = [simulator, node_action(gazebo.bridge, plan), spawn]
    for before, after in zip(chain, chain[1:]):
        actions.append(RegisterEventHandler(OnProcessExit(
            target_action=before, on_exit=after_success(before, [after]))))
    if plan.activate_planner:
        actions.append(RegisterEventHandler(OnProcessExit(
            target_action=chain[-1],
            on_exit=after_success(chain[-1], [change_state(planner,
                                                           Transition.TRANSITION_CONFIGURE)]))))
        # Only after configuring: a later deactivation by an operator must stick.
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=planner, start_state="configuring", goal_state="inactive",
            entities=[change_state(planner, Transition.TRANSITION_ACTIVATE)])))
    return actions


def simulator_launch_file(gazebo: graph.GazeboGraph) -> PathJoinSubstitution:
    """ros_gz_sim's launch file, found when it is included (graph.preflight checked it is
    installed), as ros2_control_demos name theirs."""
    return PathJoinSubstitution([FindPackageShare(gazebo.package), gazebo.launch_file])


def after_success(step: Node, actions: list[Action]
                  ) -> Callable[[ProcessExited, LaunchContext], list[Action]]:
    """OnProcessExit callback: `actions` if `step` exited with status 0, else a message saying
    where the chain stopped (the planner then stays unconfigured and commands nothing)."""
    def on_exit(event: ProcessExited, context: LaunchContext) -> list[Action]:
        if event.returncode == 0:
            return actions
        return [LogInfo(msg=f"{step.node_name} exited with status {event.returncode}; the "
                            "Gazebo start-up stops here and the planner stays unconfigured")]
    return on_exit


def change_state(node: LifecycleNode, transition: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=transition))
