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
"""The launch files and what they read, checked without launch itself.

test_launch_testing.py runs the launch tests and `ros2 launch` for real and test_launch_actions.py
builds bringup.launch.py's actions with the real launch, where launch is here (a ROS 2 install or
../shared/ros2-launch-jazzy). What needs no launch is checked here, everywhere:

- every launch file compiles, and bringup.launch.py takes its nodes, files, topics and arguments
  from graph.py (static reading of its source: no names of its own);
- graph.launch_graph, which the launch file calls, gives the graph each mode must have, with the
  robot config's real-mode defaults, and graph.preflight refuses what would fail once started
  (mode:=real without confirm_real:=true, a model trained on another arm, a missing package);
- the files the graph points at agree with each other: URDF / xacro, robot configs,
  controllers.yaml, the ros2_control block, the camera sensor and the bridge, the world SDF;
- package.xml lists every package the launch files and graph reference;
- the docs give the commands and every launch argument.
"""

from __future__ import annotations

import ast
import py_compile
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from world_model_planner import graph
from world_model_planner.core import config as cfg
from world_model_planner.core.robot import Robot, RobotDescription

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import launch_env  # noqa: E402

LAUNCH_DIR = ROOT / "launch"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
BRINGUP = ROOT / graph.BRINGUP_LAUNCH
ROBOTS = sorted((ROOT / graph.ROBOTS_DIR).glob("*.yaml"))
PLANNER_PERIOD = 0.1  # s: config/sim.yaml control_period, the shipped model's rate
REAL = {"mode": "real", "confirm_real": "true"}


def launch_graph(**arguments: str) -> graph.LaunchGraph:
    return graph.launch_graph(arguments, ROOT)


def gazebo_urdf() -> str:
    return graph.expand_description(ROOT / graph.URDF_XACRO, graph.gazebo_xacro_arguments(ROOT))


def controllers_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / graph.CONTROLLERS).read_text())


def bridge_yaml() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / graph.GZ_BRIDGE).read_text())


# --------------------------------------------------------------------------------------------
# The launch files' source


def test_every_launch_file_compiles(tmp_path: Path):
    assert BRINGUP in LAUNCH_FILES
    for path in LAUNCH_FILES:  # bytecode to tmp_path: launch/ is installed as is
        py_compile.compile(str(path), cfile=str(tmp_path / f"{path.name}c"), doraise=True)


def calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else "?"
        return f"{base}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else "?"


def string_literals(tree: ast.Module) -> set[str]:
    """Every string constant except docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings}


def graph_vocabulary() -> set[str]:
    """Every node, package, executable, file and topic name graph.py knows, for all modes."""
    names = {value for key, value in vars(graph).items()
             if key.isupper() and isinstance(value, str) and key != "REAL_REFUSAL"}
    for plan in (launch_graph(use_rviz="true"), launch_graph(mode="gazebo"),
                 launch_graph(mode="gazebo", command_interface="trajectory"),
                 launch_graph(robot="ur5e", use_rviz="true", **REAL),
                 launch_graph(robot="fr3", command_interface="trajectory", **REAL)):
        for spec in plan.all_nodes():
            names |= {spec.name, spec.package, spec.executable, *spec.parameter_files}
            names |= {topic for pair in spec.remappings for topic in pair}
            names |= {a for a in spec.arguments if not a.startswith("-")}
    names |= {t for t in (graph.TASK_GOAL_IMAGE, graph.TASK_GOAL_JOINTS, graph.TASK_RESULT)}
    return {n for n in names if n not in {"true", "false"}}


def test_launch_files_have_no_node_file_or_topic_names_of_their_own():
    vocabulary = graph_vocabulary()
    for path in LAUNCH_FILES:
        literals = string_literals(ast.parse(path.read_text()))
        assert not literals & vocabulary, f"{path.name} spells graph.py names itself: " \
            f"{sorted(literals & vocabulary)}"
        paths = sorted(s for s in literals if "/" in s or s.endswith(
            (".yaml", ".sdf", ".urdf", ".xacro", ".rviz", ".py")))
        assert not paths, f"{path.name} has file or topic names of its own: {paths}"


def test_bringup_is_a_thin_adapter_of_graph():
    tree = ast.parse(BRINGUP.read_text())
    names = [call_name(c) for c in calls(tree)]
    assert "graph.launch_graph" in names
    # Refusals before any action: preflight runs before the actions are made.
    setup = ast.unparse(next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                             and n.name == "launch_setup"))
    assert setup.index("graph.preflight(plan)") < setup.index("return graph_actions(plan)")
    # Declared arguments: one DeclareLaunchArgument, in a loop over graph.LAUNCH_ARGUMENTS.
    assert names.count("DeclareLaunchArgument") == 1
    comprehension = next(n for n in ast.walk(tree) if isinstance(n, ast.ListComp)
                         and call_name(n.elt) == "DeclareLaunchArgument")
    assert ast.unparse(comprehension.generators[0].iter) == "graph.LAUNCH_ARGUMENTS"
    literals = string_literals(tree)
    assert not literals & {a.name for a in graph.LAUNCH_ARGUMENTS}
    # Nodes: made in one place, from a NodeSpec, never from literals.
    node_calls = [c for c in calls(tree) if call_name(c) in ("kind", "Node", "LifecycleNode")]
    assert len(node_calls) == 1
    for keyword in node_calls[0].keywords:
        if keyword.arg in ("package", "executable", "name", "parameters", "remappings",
                           "arguments", "namespace", "ros_arguments"):
            assert not isinstance(keyword.value, ast.Constant), keyword.arg
    assert ast.unparse(node_calls[0]).count("spec.") >= 6
    # Gazebo start-up: chained process exits, then the planner's lifecycle.
    for name in ("OnProcessExit", "OnStateTransition", "IncludeLaunchDescription",
                 "PythonLaunchDescriptionSource", "OpaqueFunction", "ChangeState"):
        assert name in names, name
    source = BRINGUP.read_text()
    assert "Transition.TRANSITION_CONFIGURE" in source
    assert "Transition.TRANSITION_ACTIVATE" in source


def test_mode_launch_files_include_bringup_with_their_mode():
    for mode in graph.MODES:
        path = LAUNCH_DIR / f"{mode}.launch.py"
        tree = ast.parse(path.read_text())
        assert "graph.BRINGUP_LAUNCH" in ast.unparse(tree)
        assert ("mode", mode) in [ast.literal_eval(t) for t in ast.walk(tree)
                                  if isinstance(t, ast.Tuple) and len(t.elts) == 2
                                  and all(isinstance(e, ast.Constant) for e in t.elts)]


# --------------------------------------------------------------------------------------------
# graph.launch_graph: what each mode starts


def test_launch_arguments_have_descriptions_and_choices():
    arguments = {a.name: a for a in graph.LAUNCH_ARGUMENTS}
    assert set(arguments) >= {"mode", "robot", "model", "command_interface", "namespace",
                              "use_rviz", "headless", "confirm_real", "enclave"}
    assert arguments["mode"].choices == ("mujoco", "gazebo", "real")
    assert arguments["mode"].default == "mujoco"
    assert arguments["robot"].default == "wmp_arm.yaml"
    assert arguments["model"].default == ""
    assert arguments["command_interface"].choices == ("auto", "position", "trajectory")
    assert arguments["command_interface"].default == "auto"
    assert arguments["robot_state_publisher"].choices == ("auto", "true", "false")
    assert arguments["robot_state_publisher"].default == "auto"
    assert arguments["confirm_real"].default == "false"
    for name in ("use_rviz", "headless", "confirm_real"):
        assert arguments[name].choices == ("true", "false")
    for arg in graph.LAUNCH_ARGUMENTS:
        assert len(arg.description) > 20, arg.name
        assert not arg.choices or arg.default in arg.choices


@pytest.mark.parametrize("interface", ("auto", *graph.COMMAND_INTERFACES))
def test_mujoco_graph_is_exactly_build(interface):
    plan = launch_graph(command_interface=interface)
    robot = str(ROOT / graph.ROBOTS_DIR / graph.DEFAULT_ROBOT_FILE)
    expected = "position" if interface == "auto" else interface  # wmp_arm: controllers.active
    assert plan.command_interface == expected
    assert list(plan.nodes) == graph.build("mujoco", robot=robot, command_interface=expected)
    assert plan.extra == () and plan.gazebo is None and not plan.activate_planner
    assert plan.planner.parameters["autostart"] is True


def test_mujoco_with_rviz_adds_robot_state_publisher_and_rviz():
    plan = launch_graph(use_rviz="true")
    assert [n.name for n in plan.extra] == [graph.ROBOT_STATE_PUBLISHER, graph.RVIZ_NODE]
    rviz = plan.extra[1]
    assert rviz.arguments[:2] == ("-d", str(ROOT / graph.RVIZ_CONFIG))
    assert yaml.safe_load((ROOT / graph.RVIZ_CONFIG).read_text())["Visualization Manager"]
    assert launch_graph(use_rviz="true", headless="true").extra == ()


def test_real_mode_refuses_without_confirmation():
    for arguments in ({"mode": "real"}, {"mode": "real", "confirm_real": "false"},
                      {"mode": "real", "robot": "ur5e.yaml"}):
        with pytest.raises(graph.LaunchRefused, match="confirm_real:=true"):
            graph.launch_graph(arguments, ROOT)


@pytest.mark.parametrize("robot", ["wmp_arm", "ur5e", "fr3"])
def test_real_graph_is_build_with_the_robots_description_and_controllers(robot):
    plan = launch_graph(robot=robot, command_interface="trajectory", robot_state_publisher="true",
                        **REAL)
    robot_path = ROOT / graph.ROBOTS_DIR / f"{robot}.yaml"
    config = cfg.load(cfg.RobotConfig, robot_path)
    urdf = (ROOT / config.description).read_text()
    controllers = (config.controllers.position, config.controllers.trajectory)
    assert list(plan.nodes) == graph.build(
        "real", robot=str(robot_path), model=config.model, command_interface="trajectory",
        robot_controllers=controllers, robot_description=urdf)
    planner = plan.planner
    assert planner.parameters["velocity_scale"] == 0.3
    assert planner.parameters["use_sim_time"] is False
    assert "autostart" not in planner.parameters
    assert not plan.activate_planner and plan.gazebo is None
    if config.controllers.trajectory != "joint_trajectory_controller":
        assert (graph.TRAJECTORY_COMMANDS,
                f"{config.controllers.trajectory}/joint_trajectory") in planner.remappings
    no_rsp = launch_graph(robot=robot, robot_state_publisher="false", **REAL)
    assert [n.name for n in no_rsp.nodes] == [graph.PLANNER_NODE]


@pytest.mark.parametrize("robot, interface, controller, own_publisher", [
    ("wmp_arm", "position", "forward_position_controller", True),
    ("ur5e", "trajectory", "scaled_joint_trajectory_controller", False),
    ("fr3", "trajectory", "fr3_arm_controller", False)])
def test_real_mode_defaults_come_from_the_robot_config(robot, interface, controller,
                                                       own_publisher):
    """The README's `mode:=real robot:=ur5e.yaml confirm_real:=true`: no second
    robot_state_publisher beside the driver's, and commands to the controller the driver
    activates (ur_robot_driver loads forward_position_controller inactive)."""
    plan = launch_graph(robot=robot, **REAL)
    assert plan.command_interface == interface
    assert plan.planner.parameters["command_interface"] == interface
    topic = graph.POSITION_COMMANDS if interface == "position" else graph.TRAJECTORY_COMMANDS
    suffix = "commands" if interface == "position" else "joint_trajectory"
    assert dict(plan.planner.remappings).get(topic, topic) == f"{controller}/{suffix}"
    assert (graph.ROBOT_STATE_PUBLISHER in [n.name for n in plan.nodes]) == own_publisher
    assert not [n for n in plan.notes if "switch_controllers" in n]


def test_real_mode_says_what_an_operator_must_switch_or_move():
    position = launch_graph(robot="ur5e", command_interface="position", **REAL)
    (note,) = [n for n in position.notes if "switch_controllers" in n]
    assert "--activate forward_position_controller" in note
    assert "--deactivate scaled_joint_trajectory_controller" in note
    namespaced = launch_graph(robot="ur5e", namespace="arm1", **REAL)
    (note,) = [n for n in namespaced.notes if "namespace:=arm1" in n]
    for topic in ("/arm1/joint_states", "/arm1/camera/image_raw",
                  "/arm1/scaled_joint_trajectory_controller/joint_trajectory", "driver"):
        assert topic in note, topic
    assert "ros2 lifecycle set /arm1/planner configure" in " ".join(namespaced.notes)
    described = {a.name: a.description for a in graph.LAUNCH_ARGUMENTS}["namespace"]
    for words in ("joint_states", "driver", "same namespace", "root namespace"):
        assert words in described, words


def test_model_is_the_argument_then_the_robot_configs_then_the_planners(tmp_path):
    default = launch_graph()
    assert (default.model.path, default.model.passed) == ("models/wmp_arm_reach", False)
    assert "planner.model" not in default.planner.parameters
    given = launch_graph(model="models/wmp_arm_reach_hardened")
    assert given.planner.parameters["planner.model"] == "models/wmp_arm_reach_hardened"
    config = tmp_path / "arm.yaml"
    config.write_text((ROOT / graph.ROBOTS_DIR / "wmp_arm.yaml").read_text().replace(
        'model: ""', "model: models/wmp_arm_reach_robust"))
    own = launch_graph(robot=str(config))
    assert own.planner.parameters["planner.model"] == "models/wmp_arm_reach_robust"
    assert own.model.source == f"`model` of {config}"
    assert launch_graph(robot=str(config), model="models/wmp_arm_reach").planner.parameters[
        "planner.model"] == "models/wmp_arm_reach"


@pytest.fixture
def our_prefix_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AMENT_PREFIX_PATH with only this package (tools/launch_env.py's prefix)."""
    pytest.importorskip("ament_index_python", reason="ament_index_python is not installed "
                        "(pip install '.[ros]')")
    prefix = launch_env.make_ament_prefix(tmp_path / "prefix")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    return prefix


def test_preflight_refuses_a_model_trained_on_another_arm(our_prefix_only):
    plan = launch_graph(robot="ur5e", model="models/wmp_arm_reach", **REAL)
    with pytest.raises(graph.LaunchRefused) as refused:
        graph.preflight(plan)
    message = str(refused.value)
    for words in ("models/wmp_arm_reach (from model:=)", "['base_yaw'", "robot 'ur5e'",
                  "['shoulder_pan_joint'", "pass model:=", f"`model` of {plan.robot_config}",
                  "BRING_YOUR_OWN_ARM.md"):
        assert words in message, words


def test_preflight_checks_the_robots_default_model(our_prefix_only):
    """ur5e.yaml names no model until a UR5e one ships: the planner's default (reference arm)
    is refused at launch, where before an operator found it only at configure."""
    plan = launch_graph(robot="ur5e", **REAL)
    if cfg.load(cfg.RobotConfig, plan.robot_config).model:
        graph.check_model(plan)  # a shipped UR5e model: it fits
        return
    with pytest.raises(graph.LaunchRefused, match="from planner.model of config/planner.yaml"):
        graph.preflight(plan)


def test_preflight_refuses_a_missing_model_naming_where_it_came_from(our_prefix_only, tmp_path):
    config = tmp_path / "arm.yaml"
    config.write_text((ROOT / graph.ROBOTS_DIR / "wmp_arm.yaml").read_text().replace(
        'model: ""', "model: models/not_trained_yet"))
    with pytest.raises(graph.LaunchRefused, match=r"not_trained_yet.*`model` of .*arm\.yaml"):
        graph.preflight(launch_graph(robot=str(config)))


def test_preflight_refuses_a_missing_package_naming_the_way_around_it(our_prefix_only):
    with pytest.raises(graph.LaunchRefused) as refused:
        graph.preflight(launch_graph(**REAL))  # the reference arm: robot_state_publisher:=auto
    message = str(refused.value)
    for words in ("robot_state_publisher/robot_state_publisher", "robot_state_publisher:=false",
                  "sudo apt install ros-$ROS_DISTRO-robot-state-publisher",
                  "Nothing was started"):
        assert words in message, words
    with pytest.raises(graph.LaunchRefused, match="rviz2/rviz2.*use_rviz:=false"):
        graph.preflight(launch_graph(use_rviz="true"))
    graph.preflight(launch_graph(robot_state_publisher="false", **REAL))
    graph.preflight(launch_graph())


def test_preflight_finds_nothing_of_ours_without_an_install(tmp_path, monkeypatch):
    pytest.importorskip("ament_index_python", reason="ament_index_python is not installed")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    with pytest.raises(graph.LaunchRefused, match="colcon build --packages-select"):
        graph.preflight(launch_graph())


def test_gazebo_graph_spawns_bridges_and_chains_controllers():
    plan = launch_graph(mode="gazebo", headless="true", command_interface="trajectory")
    description = gazebo_urdf()
    assert list(plan.nodes) == graph.build(
        "gazebo", robot=str(ROOT / graph.ROBOTS_DIR / graph.DEFAULT_ROBOT_FILE),
        command_interface="trajectory", robot_description=description)
    gz = plan.gazebo
    assert gz is not None and plan.activate_planner
    assert (gz.package, gz.launch_file) == ("ros_gz_sim", "launch/gz_sim.launch.py")
    gz_args = dict(gz.launch_arguments)["gz_args"].split()
    assert gz_args[0] == "-r" and "-s" in gz_args and gz_args[-1] == str(ROOT / graph.WORLD)
    assert "-s" not in dict(launch_graph(mode="gazebo").gazebo.launch_arguments)["gz_args"]
    assert gz.spawn.arguments[:2] == ("-topic", graph.ROBOT_DESCRIPTION)
    assert gz.bridge.parameters["config_file"] == str(ROOT / graph.GZ_BRIDGE)
    assert [s.arguments[0] for s in gz.spawners] == [graph.JOINT_STATE_BROADCASTER,
                                                     "joint_trajectory_controller"]
    position = launch_graph(mode="gazebo").gazebo.spawners[1]
    assert position.arguments[0] == "forward_position_controller"
    for spec in plan.all_nodes():  # use_sim_time true everywhere
        assert spec.parameters.get("use_sim_time") is True, spec.name


def test_gazebo_refuses_what_it_cannot_drive():
    with pytest.raises(graph.LaunchRefused, match="gz_ros2_control"):
        launch_graph(mode="gazebo", robot="ur5e")
    with pytest.raises(graph.LaunchRefused, match="namespace"):
        launch_graph(mode="gazebo", namespace="arm1")
    with pytest.raises(graph.LaunchRefused, match="not one of"):
        launch_graph(mode="isaac")
    with pytest.raises(graph.LaunchRefused, match="available"):
        launch_graph(robot="no_such_arm")


def test_enclave_goes_to_our_nodes_only():
    plan = launch_graph(mode="gazebo", enclave="/world_model_planner")
    for spec in plan.all_nodes():
        expected = ["--enclave", "/world_model_planner"] if spec.ours else []
        assert plan.ros_arguments(spec) == expected
    assert launch_graph().ros_arguments(launch_graph().planner) == []
    with pytest.raises(graph.LaunchRefused, match="absolute"):
        launch_graph(enclave="world_model_planner")


def test_every_parameter_file_and_remapping_comes_from_graph():
    topics = {value for key, value in vars(graph).items() if key.isupper()
              and isinstance(value, str)}
    for plan in (launch_graph(), launch_graph(mode="gazebo"), launch_graph(robot="ur5e", **REAL)):
        for spec in plan.all_nodes():
            for path in plan.parameter_paths(spec):
                assert Path(path).is_file(), path
            for source, target in spec.remappings:
                assert source in topics, source
                assert target in topics or target.endswith(("/commands", "/joint_trajectory"))


def test_wmp_run_maps_each_spec_like_the_launch_file():
    """supervisor.py (wmp run): same parameter files in the same order, same remappings."""
    from world_model_planner.supervisor import ros_arguments

    plan = launch_graph(namespace="arm1")
    for spec in plan.nodes:
        args = ros_arguments(spec, "arm1", None)
        files = [args[i + 1] for i, a in enumerate(args) if a == "--params-file"]
        remaps = [args[i + 1] for i, a in enumerate(args) if a == "-r"]
        assert [str(Path(f).resolve()) for f in files] == [
            str(Path(f).resolve()) for f in plan.parameter_paths(spec)]
        assert remaps[2:] == [f"{a}:={b}" for a, b in spec.remappings]
        assert remaps[:2] == [f"__node:={spec.name}", "__ns:=/arm1"]


# --------------------------------------------------------------------------------------------
# The files the graph points at agree with each other


def test_urdf_joints_match_robot_config_controllers_and_ros2_control_block():
    robot = Robot.load(ROOT / graph.ROBOTS_DIR / graph.DEFAULT_ROBOT_FILE)
    joints = list(robot.joint_names)
    for text in ((ROOT / robot.config.description).read_text(), gazebo_urdf()):
        description = RobotDescription.from_urdf_string(text)
        assert list(description.joint_names) == joints
        block = ET.fromstring(text).find("ros2_control")
        assert [j.get("name") for j in block.findall("joint")] == joints
        for joint in block.findall("joint"):
            assert [c.get("name") for c in joint.findall("command_interface")] == ["position"]
            assert {s.get("name") for s in joint.findall("state_interface")} == {
                "position", "velocity"}
    controllers = controllers_yaml()
    for name in (robot.config.controllers.position, robot.config.controllers.trajectory):
        assert controllers[name]["ros__parameters"]["joints"] == joints, name


def test_gazebo_description_loads_gz_ros2_control_with_our_controllers():
    root = ET.fromstring(gazebo_urdf())
    assert root.findtext("ros2_control/hardware/plugin") == graph.GZ_ROS2_CONTROL_PLUGIN
    plugins = [p for g in root.findall("gazebo") for p in g.findall("plugin")]
    (plugin,) = [p for p in plugins if p.get("filename") == "gz_ros2_control-system"]
    assert plugin.findtext("parameters") == str(ROOT / graph.CONTROLLERS)


def test_controllers_yaml_types_and_timeouts():
    data = controllers_yaml()
    manager = data["controller_manager"]["ros__parameters"]
    assert manager["update_rate"] >= 50
    assert manager[graph.JOINT_STATE_BROADCASTER]["type"] == (
        "joint_state_broadcaster/JointStateBroadcaster")
    assert manager["forward_position_controller"]["type"] == (
        "forward_command_controller/ForwardCommandController")
    assert manager["joint_trajectory_controller"]["type"] == (
        "joint_trajectory_controller/JointTrajectoryController")
    assert data["forward_position_controller"]["ros__parameters"]["interface_name"] == "position"
    jtc = data["joint_trajectory_controller"]["ros__parameters"]
    assert jtc["command_interfaces"] == ["position"]
    assert jtc["state_interfaces"] == ["position", "velocity"]
    # A dead planner must stop the arm: the timeout is on, above the planner's own two-period
    # trajectories, and above goal_time (or the controller ignores it).
    assert jtc["cmd_timeout"] > 2 * PLANNER_PERIOD
    assert jtc["cmd_timeout"] > jtc["constraints"]["goal_time"]
    text = (ROOT / graph.CONTROLLERS).read_text()
    why = text.split("cmd_timeout:")[0].rsplit("joint_trajectory_controller:", 1)[-1]
    assert "dead planner must stop the arm" in why.replace("\n    #", "")


def test_camera_sensor_topics_are_exactly_what_the_bridge_expects():
    cameras = RobotDescription.from_urdf_string(gazebo_urdf()).cameras
    root = ET.fromstring(gazebo_urdf())
    sensor_topics = set()
    for sensor in root.iter("sensor"):  # the task's camera publishes on camera/, as the sim does
        if sensor.get("type") == "camera" and sensor.findtext("topic").startswith("camera/"):
            sensor_topics |= {sensor.findtext("topic"),
                              sensor.find("camera").findtext("camera_info_topic")}
    assert set(cameras) == {"scene_camera", "table_camera"}
    bridge = bridge_yaml()
    assert all(b["direction"] == "GZ_TO_ROS" for b in bridge)
    cameras_bridged = {b["gz_topic_name"] for b in bridge
                       if b["gz_type_name"] in ("gz.msgs.Image", "gz.msgs.CameraInfo")}
    assert cameras_bridged == sensor_topics == {graph.CAMERA_IMAGE, graph.CAMERA_INFO}
    by_ros = {b["ros_topic_name"]: b for b in bridge}
    assert by_ros[graph.CAMERA_IMAGE]["ros_type_name"] == "sensor_msgs/msg/Image"
    assert by_ros[graph.CAMERA_IMAGE]["gz_topic_name"] == graph.CAMERA_IMAGE
    assert by_ros[graph.CAMERA_INFO]["ros_type_name"] == "sensor_msgs/msg/CameraInfo"
    assert by_ros[graph.CAMERA_INFO]["gz_topic_name"] == graph.CAMERA_INFO
    assert by_ros[graph.CLOCK]["ros_type_name"] == "rosgraph_msgs/msg/Clock"
    assert by_ros[graph.CLOCK]["gz_type_name"] == "gz.msgs.Clock"


def test_world_sdf_is_a_harmonic_world_with_the_systems_we_need():
    root = ET.parse(ROOT / graph.WORLD).getroot()
    assert root.tag == "sdf"
    (world,) = root.findall("world")
    plugins = {p.get("filename"): p for p in world.findall("plugin")}
    for system in ("gz-sim-physics-system", "gz-sim-user-commands-system",
                   "gz-sim-scene-broadcaster-system", "gz-sim-sensors-system"):
        assert system in plugins, system
    assert plugins["gz-sim-sensors-system"].findtext("render_engine") == "ogre2"
    assert world.find("physics") is not None
    lights = world.findall("light")
    assert any(light.get("type") == "directional" and light.findtext("cast_shadows") == "true"
               for light in lights)
    ground = [m for m in world.findall("model") if m.find("link/collision/geometry/plane")
              is not None]
    assert ground and ground[0].findtext("static") == "true"


@pytest.mark.parametrize("path", ROBOTS, ids=lambda p: p.stem)
def test_every_robot_config_loads_with_its_urdf(path):
    config = cfg.load(cfg.RobotConfig, path)
    robot = Robot.load(path)
    description = RobotDescription.from_file(ROOT / config.description)
    if config.joints:
        assert list(config.joints) == list(description.joint_names)
    assert config.tool_frame in description.links and config.base_frame in description.links
    # Tool positions are computed in the URDF's root frame and goals come in base_frame: the two
    # must be the same frame.
    np.testing.assert_allclose(
        description.frame_transform(np.zeros(robot.dof), config.base_frame), np.eye(4))
    assert np.all(robot.lower < robot.upper) and np.all(robot.velocity_limits > 0)
    assert np.all(np.isfinite(robot.velocity_limits))


def rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    return out


def rx(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.eye(4)
    out[1:3, 1:3] = [[c, -s], [s, c]]
    return out


def shift(x: float, y: float, z: float) -> np.ndarray:
    out = np.eye(4)
    out[:3, 3] = (x, y, z)
    return out


def test_ur5e_urdf_is_urs_published_dh_chain():
    """Standard DH (UR): tool0 in base_link, which is UR's base frame turned by pi."""
    ur = RobotDescription.from_file(ROOT / "description" / "ur5e.urdf")
    a = (0.0, -0.425, -0.3922, 0.0, 0.0, 0.0)
    d = (0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996)
    alpha = (np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0)
    for q in np.random.default_rng(0).uniform(-np.pi, np.pi, size=(20, 6)):
        expected = rz(np.pi)
        for i in range(6):
            expected = expected @ rz(q[i]) @ shift(0, 0, d[i]) @ shift(a[i], 0, 0) @ rx(alpha[i])
        np.testing.assert_allclose(ur.frame_transform(q, "tool0"), expected, atol=1e-9)
    assert ur.joint_names == ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
                              "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")
    np.testing.assert_allclose(ur.velocity_limits, np.pi)


def test_fr3_urdf_is_frankas_published_dh_chain():
    """Modified DH (Craig), as in Franka's documentation; the hand TCP 0.1034 m past it."""
    fr3 = RobotDescription.from_file(ROOT / "description" / "fr3.urdf")
    a = (0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088)
    d = (0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0)
    alpha = (0.0, -np.pi / 2, np.pi / 2, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi / 2)
    for q in np.random.default_rng(1).uniform(fr3.lower, fr3.upper, size=(20, 7)):
        expected = np.eye(4)
        for i in range(7):
            expected = expected @ rx(alpha[i]) @ shift(a[i], 0, 0) @ rz(q[i]) @ shift(0, 0, d[i])
        expected = expected @ shift(0, 0, 0.107)
        np.testing.assert_allclose(fr3.frame_transform(q, "fr3_link8"), expected, atol=1e-9)
    ready = [0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4]
    np.testing.assert_allclose(fr3.frame_transform(ready, "fr3_hand_tcp")[:3, 3],
                               [0.3069, 0.0, 0.4869], atol=1e-3)


def test_robot_configs_name_their_drivers_controllers():
    ur5e = cfg.load(cfg.RobotConfig, ROOT / graph.ROBOTS_DIR / "ur5e.yaml")
    assert (ur5e.controllers.position, ur5e.controllers.trajectory) == (
        "forward_position_controller", "scaled_joint_trajectory_controller")
    assert (ur5e.base_frame, ur5e.tool_frame) == ("base_link", "tool0")
    fr3 = cfg.load(cfg.RobotConfig, ROOT / graph.ROBOTS_DIR / "fr3.yaml")
    assert fr3.controllers.trajectory == "fr3_arm_controller"
    assert fr3.joints == [f"fr3_joint{i}" for i in range(1, 8)]


# --------------------------------------------------------------------------------------------
# package.xml and docs


def referenced_packages() -> set[str]:
    """Packages the launch files and graph.py use: imports, FindPackageShare /
    get_package_share_directory / Node(package=...) arguments, every NodeSpec of every mode,
    the controllers and plugins the config files name."""
    found: set[str] = set()

    def value_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "graph":
            return getattr(graph, node.attr)
        return None  # a NodeSpec field: covered by the NodeSpecs below

    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
        for call in calls(tree):
            name = call_name(call).split(".")[-1]
            if name in ("FindPackageShare", "get_package_share_directory") and call.args:
                found.add(value_of(call.args[0]))
            for keyword in call.keywords:
                if keyword.arg == "package":
                    found.add(value_of(keyword.value))
    for plan in (launch_graph(use_rviz="true"), launch_graph(mode="gazebo", use_rviz="true"),
                 launch_graph(mode="gazebo", command_interface="trajectory"),
                 launch_graph(robot="ur5e", use_rviz="true", **REAL)):
        found |= {spec.package for spec in plan.all_nodes()}
        if plan.gazebo is not None:
            found.add(plan.gazebo.package)
    found.add("xacro")  # graph.expand_description
    manager = controllers_yaml()["controller_manager"]["ros__parameters"]
    found |= {v["type"].split("/")[0] for v in manager.values() if isinstance(v, dict)}
    found.add(graph.GZ_ROS2_CONTROL_PLUGIN.split("/")[0])
    rviz = yaml.safe_load((ROOT / graph.RVIZ_CONFIG).read_text())
    found |= {d["Class"].split("/")[0] for d in rviz["Visualization Manager"]["Displays"]}
    found.discard(None)
    found -= {"__future__", "os", "typing", "collections", graph.PACKAGE}
    return found


def test_package_xml_lists_every_package_the_launch_files_reference():
    root = ET.parse(ROOT / "package.xml").getroot()
    depends = {e.text for e in root.findall("exec_depend")} | {
        e.text for e in root.findall("depend")}
    packages = referenced_packages()
    assert {"launch", "launch_ros", "ros_gz_sim", "ros_gz_bridge", "controller_manager",
            "robot_state_publisher", "rviz2", "lifecycle_msgs"} <= packages
    assert packages <= depends, f"missing from package.xml: {sorted(packages - depends)}"
    tests = {e.text for e in root.findall("test_depend")}
    assert {"launch_testing", "launch_testing_ros"} <= tests


def test_sim_to_real_doc_gives_the_commands_and_every_argument():
    text = (ROOT / "docs" / "SIM_TO_REAL.md").read_text()
    for mode in graph.MODES:
        assert f"ros2 launch world_model_planner bringup.launch.py mode:={mode}" in text
    assert "wmp run --mode mujoco" in text
    for arg in graph.LAUNCH_ARGUMENTS:
        assert f"`{arg.name}" in text, arg.name
    for words in ("ros2 security create_keystore", "ros2 security create_enclave",
                  "ROS_SECURITY_KEYSTORE", "ROS_SECURITY_ENABLE", "ROS_SECURITY_STRATEGY",
                  "cmd_timeout", "use_sim_time", "confirm_real:=true"):
        assert words in text, words


def test_bring_your_own_arm_doc_gives_the_pipeline():
    text = (ROOT / "docs" / "BRING_YOUR_OWN_ARM.md").read_text()
    for command in (
            "ros2 run world_model_planner recorder_node --ros-args --params-file "
            "config/recorder.yaml",
            "wmp train --data recordings/ --out runs/myarm",
            "wmp export --checkpoint runs/myarm --out models/myarm",
            "ros2 launch world_model_planner bringup.launch.py mode:=real robot:=<yours>.yaml "
            "model:=models/myarm confirm_real:=true"):
        assert command in text, command
    for field in ("name", "description", "joints", "base_frame", "tool_frame", "camera",
                  "velocity_scale", "acceleration_limit", "position_margin", "controllers"):
        assert f"`{field}`" in text, field


def test_task_push_poses_pushes_plans_with_the_push_model_and_loads_the_push_world():
    plan = launch_graph(task="push")
    assert plan.model == graph.ModelChoice("models/wmp_arm_push", "task:=push", passed=True)
    assert plan.planner.parameters["task"] == "push"
    assert plan.planner.parameters["planner.model"] == "models/wmp_arm_push"
    sim = next(n for n in plan.nodes if n.name == graph.SIM_NODE)
    assert sim.parameters["task"] == "push"
    mine = launch_graph(task="push", model="/models/mine")
    assert mine.model.path == "/models/mine"  # model:= still wins
    gz = launch_graph(mode="gazebo", task="push").gazebo
    world = dict(gz.launch_arguments)["gz_args"].split()[-1]
    assert world == str(ROOT / "description/worlds/push.sdf")
    reach = launch_graph()
    assert "task" not in reach.planner.parameters  # auto: the model's own task
    with pytest.raises(graph.LaunchRefused, match="task:=stack"):
        launch_graph(task="stack")
