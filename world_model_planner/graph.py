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
"""The node graph of each mode, as plain data.

`launch/bringup.launch.py` turns these specs into launch_ros Nodes, and `wmp run` starts the same
executables with the same parameter files, parameters and remappings as plain processes. This
module is the one place that knows which nodes run in which mode; a test holds the launch files to
it.

Topic names are relative (REP-135 style), so a namespace moves the whole graph.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.paths import TASK_MODELS, TASK_WORLDS
# The topic contract lives in core/topics.py (core code reads recordings by these names too).
from .core.topics import (CAMERA_IMAGE, CAMERA_INFO, CLOCK, DIAGNOSTICS, ESTOP,  # noqa: F401
                          GOAL_IMAGE, GOAL_JOINTS, GOAL_POSE, IMAGINED_IMAGE, IMAGINED_PATH,
                          JOINT_STATES, POSITION_COMMANDS, TASK_GOAL_IMAGE, TASK_GOAL_JOINTS,
                          TASK_OBJECT_POSE, TASK_RESULT, TRAJECTORY_COMMANDS)

if TYPE_CHECKING:
    from .core.config import RobotConfig

PACKAGE = "world_model_planner"
MODES = ("mujoco", "gazebo", "real")
COMMAND_INTERFACES = ("position", "trajectory")

TASKS = ("reach", "push")
DEFAULT_MODELS = TASK_MODELS  # the model each task plans with when none is named

PLANNER_NODE = "planner"
SIM_NODE = "mujoco_sim"
RECORDER_NODE = "recorder"
PLANNER_PARAMS = "config/planner.yaml"
SIM_PARAMS = "config/sim.yaml"
RECORDER_PARAMS = "config/recorder.yaml"
CONTROLLERS = "config/controllers.yaml"
GZ_BRIDGE = "config/gz_bridge.yaml"
# Fast DDS profile for full-size camera frames between local processes (docs/SIM_TO_REAL.md).
FASTDDS_LARGE_IMAGES = "config/fastdds_large_images.xml"
WORLD = TASK_WORLDS["reach"]
URDF_XACRO = "description/wmp_arm.urdf.xacro"


@dataclass(frozen=True)
class NodeSpec:
    """One node: what to run and how to configure it (launch_ros.actions.Node's arguments)."""

    name: str
    package: str
    executable: str
    parameter_files: tuple[str, ...] = ()  # relative to the package share folder
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    lifecycle: bool = False
    respawn: bool = False

    @property
    def ours(self) -> bool:
        return self.package == PACKAGE


def controller_topics(position_controller: str, trajectory_controller: str
                      ) -> tuple[tuple[str, str], ...]:
    """Remappings from our default command topics to the arm's controller names."""
    out = []
    if position_controller != "forward_position_controller":
        out.append((POSITION_COMMANDS, f"{position_controller}/commands"))
    if trajectory_controller != "joint_trajectory_controller":
        out.append((TRAJECTORY_COMMANDS, f"{trajectory_controller}/joint_trajectory"))
    return tuple(out)


def build(mode: str, *, robot: str = "config/robots/wmp_arm.yaml", model: str = "",
          command_interface: str = "position", use_sim_time: bool | None = None,
          sim_overrides: dict[str, Any] | None = None,
          planner_overrides: dict[str, Any] | None = None,
          robot_controllers: tuple[str, str] = ("forward_position_controller",
                                                "joint_trajectory_controller"),
          robot_description: str | None = None, task: str = "") -> list[NodeSpec]:
    """The nodes of `mode`. robot_controllers: (position, trajectory) controller names from the
    robot config; robot_description: the URDF text for robot_state_publisher (real mode);
    task: reach or push, set on the simulator and on the planner (which then refuses a model
    trained for the other task); empty: the parameter files' (reach)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got '{mode}'")
    if task and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got '{task}'")
    if command_interface not in COMMAND_INTERFACES:
        raise ValueError(f"command_interface must be one of {', '.join(COMMAND_INTERFACES)}, "
                         f"got '{command_interface}'")
    sim_time = mode != "real" if use_sim_time is None else use_sim_time
    planner_params: dict[str, Any] = {
        "planner.robot": robot, "command_interface": command_interface,
        "use_sim_time": sim_time, **(planner_overrides or {})}
    if model:
        planner_params["planner.model"] = model
    if task:
        planner_params["task"] = task
    remaps = list(controller_topics(*robot_controllers))
    if mode == "mujoco":
        # The planner is posed each task by its goal image alone (visual goals); the sim also
        # publishes the goal joints on task/goal_joints for tools and baselines.
        remaps += [(GOAL_IMAGE, TASK_GOAL_IMAGE)]
        planner_params.setdefault("autostart", True)
        planner_params.setdefault("synchronous_commands", True)  # the sim runs in lockstep
    if mode == "real":
        planner_params.setdefault("velocity_scale", 0.3)
    nodes = [NodeSpec(PLANNER_NODE, PACKAGE, "planner_node", (PLANNER_PARAMS,), planner_params,
                      tuple(remaps), lifecycle=True)]
    if mode == "mujoco":
        sim_params = {"sim.robot": robot, "use_sim_time": False,
                      "node.start_on_command": True,  # goal 0 waits for the planner
                      "node.lockstep": True,  # each frame waits for the planner's answer
                      **({"task": task} if task else {}), **(sim_overrides or {})}
        nodes.append(NodeSpec(SIM_NODE, PACKAGE, "mujoco_sim_node", (SIM_PARAMS,), sim_params))
    if mode in ("gazebo", "real") and robot_description is not None:
        nodes.append(NodeSpec("robot_state_publisher", "robot_state_publisher",
                              "robot_state_publisher", (),
                              {"robot_description": robot_description,
                               "use_sim_time": sim_time}))
    return nodes


# --------------------------------------------------------------------------------------------
# Launch. Everything launch/bringup.launch.py starts beyond build() is described here as data too,
# so that the launch file is a thin adapter (NodeSpec -> launch_ros Node, plus the event wiring)
# and a test on a machine without launch/launch_ros checks what `ros2 launch` will start.

BRINGUP_LAUNCH = "launch/bringup.launch.py"
ROBOTS_DIR = "config/robots"
DEFAULT_ROBOT_FILE = "wmp_arm.yaml"
RVIZ_CONFIG = "config/wmp.rviz"
# ros_gz_sim's launch file that starts Gazebo (relative to ros_gz_sim's share folder).
GZ_SIM_PACKAGE = "ros_gz_sim"
GZ_SIM_LAUNCH = "launch/gz_sim.launch.py"
GZ_VERBOSITY = 2  # errors and warnings
GZ_SPAWN_NODE = "gz_spawn"
GZ_BRIDGE_NODE = "gz_bridge"
CONTROLLER_MANAGER = "/controller_manager"
JOINT_STATE_BROADCASTER = "joint_state_broadcaster"
ROBOT_DESCRIPTION = "robot_description"
ROBOT_STATE_PUBLISHER = "robot_state_publisher"
RVIZ_NODE = "rviz2"
# Gazebo's first start on a machine compiles its shaders, which can take a minute; a spawner that
# gave up earlier would leave the arm without controllers.
SPAWNER_TIMEOUT_S = 120
BOOLEANS = ("true", "false")
# "auto": decided by the robot config (controllers.active, driver.publishes_description).
AUTO = "auto"
# xacro arguments of description/wmp_arm.urdf.xacro that make it a Gazebo robot.
XACRO_SIM_GAZEBO = "sim_gazebo"
XACRO_CONTROLLERS_FILE = "controllers_file"
GZ_ROS2_CONTROL_PLUGIN = "gz_ros2_control/GazeboSimSystem"


class LaunchRefused(ValueError):
    """The launch arguments ask for a graph this package will not start (with the reason)."""


@dataclass(frozen=True)
class LaunchArgument:
    """One DeclareLaunchArgument of bringup.launch.py: name, default, description, choices."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()


LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("mode", "mujoco", "where the arm is: the embedded MuJoCo sim, Gazebo "
                   "(ros_gz + gz_ros2_control) or a physical arm behind its own driver", MODES),
    LaunchArgument("robot", DEFAULT_ROBOT_FILE, f"robot config: a file name in {ROBOTS_DIR}/ "
                   "(wmp_arm.yaml, ur5e.yaml, fr3.yaml) or a path to your own"),
    LaunchArgument("model", "", "model folder (ONNX files + meta.json) trained on the robot; "
                   "empty: the robot config's `model`, else planner.model of "
                   f"{PLANNER_PARAMS}. A model trained on other joints is refused at launch"),
    LaunchArgument("task", AUTO, "reach: go where a goal image shows the arm; push: push the "
                   "object to where a goal image shows it (the simulator poses push episodes, "
                   "the planner plans with a push model, models/wmp_arm_push unless model:= "
                   "names one, and Gazebo loads the push world); auto: the model's task "
                   "(meta.json)", (AUTO, *TASKS)),
    LaunchArgument("command_interface", AUTO, "position: Float64MultiArray to the robot config's "
                   "position controller; trajectory: JointTrajectory to its trajectory "
                   "controller; auto: the one the robot config says the arm's driver activates "
                   "(controllers.active)", (AUTO, *COMMAND_INTERFACES)),
    LaunchArgument("namespace", "", "ROS namespace of our nodes. Every topic of theirs is "
                   "relative, so it moves too: in mode:=real the planner then reads "
                   "<namespace>/joint_states and the camera there and commands "
                   "<namespace>/<controller>/..., so the arm's driver and camera must run in the "
                   "same namespace (ur_robot_driver and franka_bringup use the root namespace). "
                   "Refused with mode:=gazebo (gz_ros2_control runs in the root namespace)"),
    LaunchArgument("use_rviz", "false", f"start RViz with {RVIZ_CONFIG}", BOOLEANS),
    LaunchArgument("headless", "false", "no windows: Gazebo runs server-only with headless "
                   "rendering, and RViz is not started", BOOLEANS),
    LaunchArgument("confirm_real", "false", "mode:=real commands a physical arm and refuses to "
                   "start unless this is true", BOOLEANS),
    LaunchArgument("enclave", "", "SROS2 security enclave of our nodes (passed as --enclave), "
                   "e.g. /world_model_planner; empty: no enclave (see docs/SIM_TO_REAL.md)"),
    LaunchArgument("robot_state_publisher", AUTO, "real mode: publish robot_description and TF "
                   "from the robot config's URDF; auto: only if the robot config says its driver "
                   "does not (driver.publishes_description; ur_robot_driver and franka_bringup "
                   "do)", (AUTO, *BOOLEANS)),
)

REAL_REFUSAL = ("mode:=real commands a physical arm and will not start without "
                "confirm_real:=true. Pass it once the workspace is clear, the arm's own protective "
                "stop is in reach and its driver runs with the controllers named in the robot "
                "config; the planner then waits, unconfigured, for 'ros2 lifecycle set /planner "
                "configure' and 'activate'.")


@dataclass(frozen=True)
class LaunchOptions:
    """The launch arguments, validated and typed (booleans as bool)."""

    mode: str = "mujoco"
    robot: str = DEFAULT_ROBOT_FILE
    model: str = ""
    task: str = AUTO
    command_interface: str = AUTO
    namespace: str = ""
    use_rviz: bool = False
    headless: bool = False
    confirm_real: bool = False
    enclave: str = ""
    robot_state_publisher: bool | None = None  # None: auto

    @classmethod
    def from_arguments(cls, values: Mapping[str, str]) -> LaunchOptions:
        """Checks each value against LAUNCH_ARGUMENTS (ros2 launch checks the choices too; this
        also covers callers that bypass DeclareLaunchArgument, such as tests and includes)."""
        known = {a.name for a in LAUNCH_ARGUMENTS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LaunchRefused(f"unknown launch argument(s) {unknown}; known: {sorted(known)}")
        kwargs: dict[str, Any] = {}
        for arg in LAUNCH_ARGUMENTS:
            value = str(values.get(arg.name, arg.default)).strip()
            if arg.choices and value not in arg.choices:
                raise LaunchRefused(f"{arg.name}:={value} is not one of {', '.join(arg.choices)}")
            if arg.choices == BOOLEANS:
                kwargs[arg.name] = value == "true"
            elif arg.choices == (AUTO, *BOOLEANS):
                kwargs[arg.name] = None if value == AUTO else value == "true"
            else:
                kwargs[arg.name] = value
        options = cls(**kwargs)
        if options.enclave and not options.enclave.startswith("/"):
            raise LaunchRefused(f"enclave:={options.enclave}: SROS2 enclaves are absolute paths "
                                f"in the keystore, e.g. /{PACKAGE}")
        return options


@dataclass(frozen=True)
class GazeboGraph:
    """Gazebo, the robot spawned into it, the ros_gz bridge and the controller spawners.

    The launch file includes `launch_file` of `package` with `launch_arguments`, starts `bridge`
    and `spawn`, then each of `spawners` after the previous step has exited successfully (the
    controller manager exists only once the robot is spawned)."""

    package: str
    launch_file: str
    launch_arguments: tuple[tuple[str, str], ...]
    spawn: NodeSpec
    bridge: NodeSpec
    spawners: tuple[NodeSpec, ...]

    @property
    def nodes(self) -> tuple[NodeSpec, ...]:
        return (self.spawn, self.bridge, *self.spawners)


@dataclass(frozen=True)
class ModelChoice:
    """The model the planner will load and which setting chose it (for messages)."""

    path: str  # as given: absolute, or relative to the working folder or the share folder
    source: str  # "model:=", "`model` of <robot config>" or "planner.model of config/planner.yaml"
    passed: bool  # given to the planner as a parameter (else planner.yaml's value applies)


@dataclass(frozen=True)
class LaunchGraph:
    """What bringup.launch.py starts for one set of launch arguments."""

    options: LaunchOptions
    share: Path
    robot_config: Path
    nodes: tuple[NodeSpec, ...]  # build()'s graph, started at once
    command_interface: str  # options.command_interface with auto resolved
    model: ModelChoice
    extra: tuple[NodeSpec, ...] = ()  # RViz (and what it needs), started at once
    gazebo: GazeboGraph | None = None
    # Gazebo: the launch file configures and activates the planner once its command controller is
    # active. MuJoCo: the planner autostarts itself. Real: an operator activates it.
    activate_planner: bool = False
    notes: tuple[str, ...] = ()  # said to the user at start-up

    @property
    def planner(self) -> NodeSpec:
        return next(n for n in self.nodes if n.name == PLANNER_NODE)

    def all_nodes(self) -> tuple[NodeSpec, ...]:
        return self.nodes + self.extra + (self.gazebo.nodes if self.gazebo else ())

    def parameter_paths(self, spec: NodeSpec) -> list[str]:
        """The spec's parameter files as absolute paths in the share folder."""
        return [str(self.share / f) for f in spec.parameter_files]

    def ros_arguments(self, spec: NodeSpec) -> list[str]:
        """`--enclave` for our own nodes when an SROS2 enclave is given; other packages' nodes
        (Gazebo, bridges, spawners, RViz) get their enclaves from their own launch setup."""
        return ["--enclave", self.options.enclave] if self.options.enclave and spec.ours else []

    def summary(self) -> str:
        """One line for the launch log: what runs, so a wrong mode or robot shows at once."""
        names = ", ".join(n.name for n in self.all_nodes())
        return (f"{PACKAGE}: mode {self.options.mode}, robot {self.robot_config}, model "
                f"{self.model.path}, command_interface {self.command_interface}: {names}")


def robot_config_path(robot: str, share: str | os.PathLike[str]) -> Path:
    """`robot:=` as a file: a bare name is looked up in config/robots/ (".yaml" optional), a path
    is taken relative to the working folder, then to the share folder."""
    share = Path(share)
    if "/" not in robot and os.sep not in robot:
        name = robot if robot.endswith((".yaml", ".yml")) else f"{robot}.yaml"
        path = share / ROBOTS_DIR / name
        if path.is_file():
            return path
        if Path(robot).is_file():  # a config of your own in the working folder
            return Path(robot).resolve()
        available = sorted(p.name for p in (share / ROBOTS_DIR).glob("*.yaml"))
        raise LaunchRefused(f"robot:={robot}: no {name} in {share / ROBOTS_DIR} "
                            f"(available: {', '.join(available)})")
    return share_file(robot, share, kind="robot config")


def share_file(path: str, share: str | os.PathLike[str], *, kind: str = "file") -> Path:
    """An absolute path, a path relative to the working folder, or one relative to the share."""
    candidate = Path(path).expanduser()
    if candidate.exists():
        return candidate.resolve()
    if not candidate.is_absolute() and (Path(share) / candidate).exists():
        return Path(share) / candidate
    raise LaunchRefused(f"{kind} '{path}' not found (looked in {Path.cwd()} and in {share})")


def gazebo_description_source(description: Path) -> Path:
    """The file Gazebo's robot_description is made from: a xacro as is; for a pre-expanded URDF
    the xacro beside it (wmp_arm.urdf is wmp_arm.urdf.xacro with the default, non-Gazebo
    arguments); otherwise the URDF itself."""
    if description.name.endswith(".xacro"):
        return description
    sibling = description.with_name(description.name + ".xacro")
    return sibling if sibling.is_file() else description


def gazebo_xacro_arguments(share: str | os.PathLike[str]) -> dict[str, str]:
    """xacro arguments that turn the arm description into a Gazebo robot."""
    return {XACRO_SIM_GAZEBO: "true", XACRO_CONTROLLERS_FILE: str(Path(share) / CONTROLLERS)}


def expand_description(path: Path, mappings: Mapping[str, str] | None = None) -> str:
    """URDF text: a .xacro file expanded with `mappings` (xacro's Python API, as `xacro file
    name:=value` would), any other file read as is."""
    if path.name.endswith(".xacro"):
        import xacro

        return xacro.process_file(str(path), mappings=dict(mappings or {})).toxml()
    return path.read_text(encoding="utf-8")


def check_gazebo_description(text: str, robot: str, source: Path) -> None:
    """Gazebo mode needs a ros2_control block on gz_ros2_control and the plugin that starts the
    controller manager; a kinematic-only URDF (ur5e.urdf, fr3.urdf here) has neither."""
    if GZ_ROS2_CONTROL_PLUGIN not in text or "gz_ros2_control-system" not in text:
        raise LaunchRefused(
            f"robot '{robot}': {source} has no ros2_control block on {GZ_ROS2_CONTROL_PLUGIN} "
            "with the gz_ros2_control-system plugin, so Gazebo could not drive it; mode:=gazebo "
            "needs a Gazebo description of the arm (see docs/BRING_YOUR_OWN_ARM.md)")


def controller_joints(controllers_file: Path, controller: str) -> list[str]:
    """The `joints` of `controller` in a controller_manager parameter file."""
    import yaml

    data = yaml.safe_load(controllers_file.read_text(encoding="utf-8")) or {}
    for key in (controller, f"/{controller}", "/**"):
        section = data.get(key, {})
        params = section.get("ros__parameters", {}) if isinstance(section, dict) else {}
        if "joints" in params:
            return list(params["joints"])
    raise LaunchRefused(f"{controllers_file}: no joints for controller '{controller}'")


def command_controller(command_interface: str, robot_controllers: tuple[str, str]) -> str:
    """The controller the planner commands: (position, trajectory)[command_interface]."""
    if command_interface not in COMMAND_INTERFACES:
        raise ValueError(f"command_interface must be one of {', '.join(COMMAND_INTERFACES)}")
    return robot_controllers[COMMAND_INTERFACES.index(command_interface)]


def robot_state_publisher(description: str, use_sim_time: bool) -> NodeSpec:
    """robot_state_publisher with the given URDF text (same shape as build()'s)."""
    return NodeSpec(ROBOT_STATE_PUBLISHER, ROBOT_STATE_PUBLISHER, ROBOT_STATE_PUBLISHER, (),
                    {ROBOT_DESCRIPTION: description, "use_sim_time": use_sim_time})


def rviz(share: str | os.PathLike[str], fixed_frame: str, use_sim_time: bool) -> NodeSpec:
    """RViz with our layout; the fixed frame is the robot config's base_frame, so one layout
    serves every arm."""
    return NodeSpec(RVIZ_NODE, "rviz2", "rviz2", (), {"use_sim_time": use_sim_time},
                    arguments=("-d", str(Path(share) / RVIZ_CONFIG), "-f", fixed_frame))


def gz_args(world: Path, headless: bool) -> str:
    """Gazebo's command line: run at once (-r); headless: server only with EGL rendering, so the
    camera sensor still renders on a machine without a display."""
    headless_flags = " -s --headless-rendering" if headless else ""
    return f"-r{headless_flags} -v {GZ_VERBOSITY} {world}"


def gazebo_graph(share: Path, robot_name: str, controller: str, headless: bool,
                 world: str = WORLD) -> GazeboGraph:
    """The Gazebo side of mode:=gazebo for an arm whose description is on robot_description."""
    spawn = NodeSpec(GZ_SPAWN_NODE, GZ_SIM_PACKAGE, "create", (), {"use_sim_time": True},
                     arguments=("-topic", ROBOT_DESCRIPTION, "-name", robot_name,
                                "-allow_renaming", "true"))
    bridge = NodeSpec(GZ_BRIDGE_NODE, "ros_gz_bridge", "parameter_bridge", (),
                      {"config_file": str(share / GZ_BRIDGE), "use_sim_time": True})

    def spawner(name: str, *extra: str) -> NodeSpec:
        # use_sim_time like every node of the Gazebo graph (the spawner only calls services).
        return NodeSpec(f"spawner_{name}", "controller_manager", "spawner", (),
                        {"use_sim_time": True},
                        arguments=(name, "--controller-manager", CONTROLLER_MANAGER,
                                   "--controller-manager-timeout", str(SPAWNER_TIMEOUT_S), *extra))

    spawners = (spawner(JOINT_STATE_BROADCASTER),
                spawner(controller, "--param-file", str(share / CONTROLLERS)))
    arguments = (("gz_args", gz_args(share / world, headless)), ("on_exit_shutdown", "true"))
    return GazeboGraph(GZ_SIM_PACKAGE, GZ_SIM_LAUNCH, arguments, spawn, bridge, spawners)


def launch_graph(arguments: Mapping[str, str], share: str | os.PathLike[str]) -> LaunchGraph:
    """The graph of bringup.launch.py for `arguments` (launch argument name -> string value).

    Raises LaunchRefused, with the reason, for what must not start: mode:=real without
    confirm_real:=true, a namespace in Gazebo, a robot Gazebo cannot drive, an unknown robot.
    What needs the installed system (the model's files, other packages) is preflight()'s."""
    from .core.config import ConfigError, RobotConfig, load

    options = LaunchOptions.from_arguments(arguments)
    share = Path(share)
    if options.mode == "real" and not options.confirm_real:
        raise LaunchRefused(REAL_REFUSAL)
    if options.mode == "gazebo" and options.namespace.strip("/"):
        raise LaunchRefused(
            f"namespace:={options.namespace} is not supported with mode:=gazebo: gz_ros2_control's "
            "controller manager, its controllers and the bridge run in the root namespace")
    robot_path = robot_config_path(options.robot, share)
    try:
        robot = load(RobotConfig, robot_path)
    except ConfigError as exc:
        raise LaunchRefused(str(exc)) from exc
    urdf = share_file(robot.description, share, kind="URDF")
    controllers = (robot.controllers.position, robot.controllers.trajectory)
    interface = (robot.controllers.active if options.command_interface == AUTO
                 else options.command_interface)
    model = model_choice(options, robot, robot_path, share)
    description = None
    gazebo = None
    if options.mode == "gazebo":
        source = gazebo_description_source(urdf)
        description = expand_description(source, gazebo_xacro_arguments(share))
        check_gazebo_description(description, robot.name, source)
        controller = command_controller(interface, controllers)
        _check_controller_joints(share / CONTROLLERS, controller, description, source)
        gazebo = gazebo_graph(share, robot.name, controller, options.headless,
                              TASK_WORLDS.get(options.task, WORLD))
    elif options.mode == "real" and real_robot_state_publisher(options, robot):
        description = expand_description(urdf)
    nodes = build(options.mode, robot=str(robot_path), model=model.path if model.passed else "",
                  command_interface=interface, robot_controllers=controllers,
                  robot_description=description,
                  task="" if options.task == AUTO else options.task)
    sim_time = options.mode != "real"
    extra: list[NodeSpec] = []
    notes: list[str] = []
    if options.use_rviz and options.headless:
        notes.append("use_rviz:=true ignored: headless:=true opens no windows")
    elif options.use_rviz:
        if options.mode == "mujoco":
            # Nothing else publishes robot_description and TF for RViz in this mode.
            extra.append(robot_state_publisher(expand_description(urdf), sim_time))
        extra.append(rviz(share, robot.base_frame, sim_time))
    if options.mode == "real":
        notes += real_mode_notes(options, robot, interface)
    return LaunchGraph(options, share, robot_path, tuple(nodes), interface, model, tuple(extra),
                       gazebo, activate_planner=options.mode == "gazebo", notes=tuple(notes))


def real_robot_state_publisher(options: LaunchOptions, robot: RobotConfig) -> bool:
    """robot_state_publisher:= in mode:=real; auto: only where the arm's driver runs none."""
    if options.robot_state_publisher is None:
        return not robot.driver.publishes_description
    return options.robot_state_publisher


def model_choice(options: LaunchOptions, robot: RobotConfig, robot_path: Path,
                 share: Path) -> ModelChoice:
    """model:=, else the robot config's `model`, else the push model for task:=push, else
    planner.model of config/planner.yaml."""
    if options.model:
        return ModelChoice(options.model, "model:=", passed=True)
    if options.task == "push":
        return ModelChoice(DEFAULT_MODELS["push"], "task:=push", passed=True)
    if robot.model:
        return ModelChoice(robot.model, f"`model` of {robot_path}", passed=True)
    from .core.config import PlannerNodeConfig, load

    planner = load(PlannerNodeConfig, share / PLANNER_PARAMS, node=PLANNER_NODE)
    return ModelChoice(planner.planner.model, f"planner.model of {PLANNER_PARAMS}",
                       passed=False)


def real_mode_notes(options: LaunchOptions, robot: RobotConfig, interface: str) -> list[str]:
    """What an operator must know before activating: lifecycle, namespace, inactive controller."""
    planner = _node_path(options.namespace, PLANNER_NODE)
    notes = [f"real mode: the planner waits unconfigured; when ready run 'ros2 lifecycle set "
             f"{planner} configure' then '... activate'"]
    controller = command_controller(interface, (robot.controllers.position,
                                                robot.controllers.trajectory))
    topic = f"{controller}/{'commands' if interface == 'position' else 'joint_trajectory'}"
    if options.namespace.strip("/"):
        notes.append(
            f"namespace:={options.namespace}: the planner reads "
            f"{_node_path(options.namespace, JOINT_STATES)} and "
            f"{_node_path(options.namespace, CAMERA_IMAGE)} and commands "
            f"{_node_path(options.namespace, topic)}; the arm's driver and camera must run in "
            "that namespace too, or the planner hears nothing and commands nothing")
    if interface != robot.controllers.active:
        active = command_controller(robot.controllers.active, (robot.controllers.position,
                                                               robot.controllers.trajectory))
        notes.append(
            f"command_interface:={interface} commands {controller}, but robot '{robot.name}' "
            f"says its driver activates {active} (controllers.active): switch before activating "
            f"the planner: 'ros2 control switch_controllers --activate {controller} "
            f"--deactivate {active}'")
    return notes


def preflight(plan: LaunchGraph) -> None:
    """Refuses, before anything starts, a graph that would fail once running: a model trained on
    other joints than the robot's, or a node or launch file whose package is not installed. (ros2
    launch itself finds a missing package only when it reaches that node, after starting the
    ones before it, and then exits leaving those running.)"""
    check_model(plan)
    missing = missing_installs(plan)
    if missing:
        packages = sorted({m[0] for m in missing if m[0] != PACKAGE})
        install = (" Install: sudo apt install " + " ".join(
            f"ros-$ROS_DISTRO-{p.replace('_', '-')}" for p in packages) + "." if packages else "")
        raise LaunchRefused(
            f"mode:={plan.options.mode} needs what is not installed (searched AMENT_PREFIX_PATH="
            f"{os.environ.get('AMENT_PREFIX_PATH', '')}): " + "; ".join(m[1] for m in missing)
            + "." + install + " Nothing was started.")


def check_model(plan: LaunchGraph) -> None:
    """The model exists and was trained on the robot's joints (same names, same order)."""
    from .core.config import RobotConfig, load
    from .core.robot import Robot, RobotDescription
    from .core.runtime import ModelError, read_meta

    choice = plan.model
    fix = (f"pass model:=<a model folder trained on this arm> or name one in `model` of "
           f"{plan.robot_config}; docs/BRING_YOUR_OWN_ARM.md shows how to record, train and "
           "export one")
    try:
        folder = share_file(choice.path, plan.share, kind="model folder")
        meta = read_meta(folder)
    except (LaunchRefused, ModelError) as exc:
        raise LaunchRefused(f"{exc} (the model from {choice.source}): {fix}") from exc
    config = load(RobotConfig, plan.robot_config)
    urdf = share_file(config.description, plan.share, kind="URDF")
    robot = Robot(config, RobotDescription.from_file(urdf), str(plan.robot_config))
    if list(meta["joint_names"]) != list(robot.joint_names):
        raise LaunchRefused(
            f"model {folder} (from {choice.source}) was trained on the joints "
            f"{list(meta['joint_names'])}, but robot '{robot.name}' ({plan.robot_config}) has "
            f"{list(robot.joint_names)}: the planner would refuse it at configure. To fix: {fix}")


def missing_installs(plan: LaunchGraph) -> list[tuple[str, str]]:
    """(package, what is missing and how else to do without it) for each node executable
    (<prefix>/lib/<package>/<executable>, where launch_ros looks) and launch file not found."""
    from ament_index_python.packages import (PackageNotFoundError, get_package_prefix,
                                             get_package_share_directory)

    missing = []
    for spec in plan.all_nodes():
        try:
            path = Path(get_package_prefix(spec.package)) / "lib" / spec.package / spec.executable
            found = path.is_file() and os.access(path, os.X_OK)
        except PackageNotFoundError:
            found = False
        if not found:
            missing.append((spec.package, f"{spec.package}/{spec.executable} (node "
                                          f"'{spec.name}'{_without(plan, spec)})"))
    if plan.gazebo is not None:
        try:
            found = (Path(get_package_share_directory(plan.gazebo.package))
                     / plan.gazebo.launch_file).is_file()
        except PackageNotFoundError:
            found = False
        if not found:
            missing.append((plan.gazebo.package, f"{plan.gazebo.package}'s "
                                                 f"{plan.gazebo.launch_file} (Gazebo)"))
        for package, what in gazebo_plugin_packages(plan):
            try:
                get_package_prefix(package)
            except PackageNotFoundError:
                missing.append((package, f"{package} ({what})"))
    return missing


def gazebo_plugin_packages(plan: LaunchGraph) -> list[tuple[str, str]]:
    """Packages Gazebo mode loads as plugins, not nodes: gz_ros2_control (named in the URDF)
    and the package of each spawned controller's type in config/controllers.yaml."""
    import yaml

    plugin = GZ_ROS2_CONTROL_PLUGIN.split("/")[0]
    needed = [(plugin, "the Gazebo system that runs the controller manager")]
    data = yaml.safe_load((plan.share / CONTROLLERS).read_text(encoding="utf-8")) or {}
    manager = data.get("controller_manager", {}).get("ros__parameters", {})
    for spawner in plan.gazebo.spawners if plan.gazebo else ():
        kind = manager.get(spawner.arguments[0], {}).get("type", "")
        if kind:
            needed.append((kind.split("/")[0], f"controller type of {spawner.arguments[0]}"))
    return needed


def _without(plan: LaunchGraph, spec: NodeSpec) -> str:
    """How to launch without `spec`, where an argument asked for it."""
    if spec.ours:
        return f"; build and source the workspace: colcon build --packages-select {PACKAGE}"
    if spec in plan.extra:
        return "; or use_rviz:=false"
    if spec.name == ROBOT_STATE_PUBLISHER and plan.options.mode == "real":
        return "; or robot_state_publisher:=false where the arm's driver publishes " \
               "robot_description"
    return ""


def _check_controller_joints(controllers_file: Path, controller: str, description: str,
                             source: Path) -> None:
    """The Gazebo controllers file must drive exactly the joints of the spawned arm."""
    from .core.robot import RobotDescription

    joints = list(RobotDescription.from_urdf_string(description, str(source)).joint_names)
    listed = controller_joints(controllers_file, controller)
    if listed != joints:
        raise LaunchRefused(f"{controllers_file}: controller '{controller}' drives {listed}, but "
                            f"{source} has the joints {joints}")


def _node_path(namespace: str, name: str) -> str:
    namespace = namespace.strip("/")
    return f"/{namespace}/{name}" if namespace else f"/{name}"
