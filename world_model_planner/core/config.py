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
"""Typed, validated configuration from config/*.yaml.

Each config file maps onto a tree of frozen dataclasses whose fields carry a description and the
allowed range. Loading checks every key, so a typo, a wrong type or an out-of-range value stops the
program at start-up with the file and the dotted key, not deep inside a control loop.

Files read by a ROS node use the ROS 2 parameter-file layout (`<node>: ros__parameters: ...`), so
the same file is the node's `--params-file` and the core's configuration; the nodes declare one ROS
parameter per leaf field, with the field's description and range (see :func:`leaves`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

T = TypeVar("T")

ROS_PARAMETERS = "ros__parameters"


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def param(default: Any, doc: str, *, ge: float | None = None, gt: float | None = None,
          le: float | None = None, lt: float | None = None) -> Any:
    """A config field: its default, what it means (shown to ROS users) and its allowed range."""
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: _copy(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value)
    return type(value)(value)


def doc_of(cls: type, name: str) -> str:
    """The description of field `name` of config class `cls`."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}[name]


# --------------------------------------------------------------------------------------------
# Reading


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path`; syntax errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def node_parameters(data: Mapping[str, Any], node: str, *, source: str) -> dict[str, Any]:
    """The `ros__parameters` of `node` in a ROS 2 parameter file (`/**` also matches)."""
    for key in (node, f"/{node}", "/**"):
        section = data.get(key)
        if isinstance(section, Mapping) and ROS_PARAMETERS in section:
            params = section[ROS_PARAMETERS]
            return dict(params) if isinstance(params, Mapping) else {}
    raise ConfigError(f"{source}: no '{node}: {ROS_PARAMETERS}:' section")


def load(cls: type[T], path: str | Path, *, node: str | None = None,
         overrides: Mapping[str, Any] | None = None) -> T:
    """Load `cls` from a YAML file (the `node` section of a ROS parameter file if given).

    `overrides` are dotted keys (`planner.horizon`) applied on top, validated the same way.
    """
    data: Mapping[str, Any] = load_yaml(path)
    if node is not None:
        data = node_parameters(data, node, source=str(path))
    merged = _merge(unflatten(dict(overrides or {})), data)
    return from_dict(cls, merged, source=str(path))


def _merge(over: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(value, out[key])
        else:
            out[key] = value
    return out


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, source: str = "<config>",
              prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping, checking keys, types and ranges."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix or '<top>'}: expected a mapping, got "
                          f"{type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        where = ", ".join(f"{prefix}{k}" for k in unknown)
        raise ConfigError(f"{source}: unknown key {where} (valid keys here: "
                          f"{', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        field = fields[name]
        key = f"{prefix}{name}"
        kwargs[name] = _check_range(
            _coerce(hints[name], value, source=source, key=key), field.metadata, source, key)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source}: {prefix or '<top>'}: {exc}") from exc


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, *, source: str, key: str) -> Any:
    origin = get_origin(tp)
    fail = ConfigError(f"{source}: {key}: expected {_type_name(tp)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, source=source, key=key)
            except ConfigError:
                continue
        raise fail
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise fail
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise fail
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{source}: {key}: expected {len(args)} values, got {len(value)}")
            items = [_coerce(a, v, source=source, key=f"{key}[{i}]")
                     for i, (a, v) in enumerate(zip(args, value))]
        else:
            item = args[0] if args else Any
            items = [_coerce(item, v, source=source, key=f"{key}[{i}]")
                     for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source=source, prefix=f"{key}.")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise fail
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result = float(value)
            if not math.isfinite(result):
                raise ConfigError(f"{source}: {key}: must be a finite number, got {value!r}")
            return result
        raise fail
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail
    raise ConfigError(f"{source}: {key}: unsupported config type {tp!r}")


def _check_range(value: Any, meta: Mapping[str, Any], source: str, key: str) -> Any:
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        for bound, test, word in (("ge", lambda a, b: a >= b, ">="),
                                  ("gt", lambda a, b: a > b, ">"),
                                  ("le", lambda a, b: a <= b, "<="),
                                  ("lt", lambda a, b: a < b, "<")):
            limit = meta.get(bound)
            if limit is not None and not test(v, limit):
                raise ConfigError(f"{source}: {key}: must be {word} {limit}, got {v!r}")
    return value


# --------------------------------------------------------------------------------------------
# Writing and flattening (ROS parameters are flat, dotted names)


def to_dict(obj: Any) -> Any:
    """Plain dicts/lists of a config dataclass tree (for YAML, JSON and meta.json)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def leaves(cls: type, prefix: str = "") -> list[tuple[str, Any, dataclasses.Field[Any]]]:
    """(dotted name, type, field) for every leaf field of config class `cls`."""
    out: list[tuple[str, Any, dataclasses.Field[Any]]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(leaves(tp, f"{prefix}{f.name}."))
        else:
            out.append((f"{prefix}{f.name}", tp, f))
    return out


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted-name -> value for every leaf of a config object."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts from dotted names (the inverse of :func:`flatten`)."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


# --------------------------------------------------------------------------------------------
# Schemas. One class per config file section; the YAML files in config/ hold the defaults users
# edit, and these classes hold what is allowed.


@dataclasses.dataclass(frozen=True)
class ControllerNames:
    position: str = param("forward_position_controller",
                          "ros2_control controller taking Float64MultiArray position commands")
    trajectory: str = param("joint_trajectory_controller",
                            "ros2_control controller taking JointTrajectory commands")


@dataclasses.dataclass(frozen=True)
class RobotConfig:
    """config/robots/<arm>.yaml: which arm, where its description lives and how it is driven."""

    name: str = param("wmp_arm", "arm name, used in model metadata and logs")
    description: str = param("description/wmp_arm.urdf",
                             "URDF with joints, limits and frames (relative to the package share)")
    joints: list[str] = param([], "joints the planner commands, in command order "
                              "(empty: every moving joint of the URDF, root first)")
    base_frame: str = param("base_link", "frame of goal poses and tool positions")
    tool_frame: str = param("tool_link", "frame whose position is the reach target")
    camera: str = param("scene_camera", "camera sensor name in the URDF")
    velocity_scale: float = param(0.6, "fraction of each URDF velocity limit the planner may use",
                                  gt=0.0, le=1.0)
    acceleration_limit: float = param(8.0, "joint acceleration limit for commands (rad/s^2)",
                                      gt=0.0)
    position_margin: float = param(0.05, "commands stay this far inside the URDF limits (rad)",
                                   ge=0.0, le=0.5)
    path_tolerance: float = param(
        0.3, "a joint measured this far (rad) from the last command was moved by something else "
        "(a simulator reset, hand guiding, a collision): control restarts from where the arm is "
        "instead of pulling it back (like joint_trajectory_controller's path tolerance); 0: never",
        ge=0.0)
    controllers: ControllerNames = param(ControllerNames(), "ros2_control controller names")


@dataclasses.dataclass(frozen=True)
class LightingPerturbation:
    enabled: bool = param(False, "dim and tint the lights and move the key light")
    intensity: float = param(0.45, "scale of every light's brightness", gt=0.0, le=3.0)
    tint: tuple[float, float, float] = param((1.0, 0.8, 0.55), "RGB multiplier of the lights",
                                             ge=0.0, le=2.0)
    key_light_shift: tuple[float, float, float] = param(
        (0.9, 0.8, -0.7), "metres added to the key light's position")


@dataclasses.dataclass(frozen=True)
class CameraOffsetPerturbation:
    enabled: bool = param(False, "move and turn the camera away from its calibrated pose")
    translation: tuple[float, float, float] = param((0.04, -0.04, 0.03),
                                                    "offset in the camera frame (m)")
    rotation_deg: tuple[float, float, float] = param((1.5, -2.0, 2.5),
                                                     "roll, pitch, yaw offset (degrees)")


@dataclasses.dataclass(frozen=True)
class DistractorPerturbation:
    enabled: bool = param(False, "a moving box in the workspace that is not part of the task")
    centre: tuple[float, float, float] = param((0.25, 0.30, 0.08), "orbit centre (m)")
    radius: float = param(0.12, "orbit radius (m)", ge=0.0)
    period: float = param(6.0, "orbit period (s)", gt=0.0)
    size: float = param(0.07, "half edge of the box (m)", gt=0.0, le=0.5)
    rgba: tuple[float, float, float, float] = param((0.95, 0.85, 0.10, 1.0), "box colour",
                                                    ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class ColourPerturbation:
    enabled: bool = param(False, "recolour the arm and the floor")
    hue_shift: float = param(0.3, "fraction of the colour wheel every arm colour turns by",
                             ge=0.0, le=1.0)
    floor_rgba: tuple[float, float, float, float] = param((0.55, 0.45, 0.35, 1.0),
                                                          "floor colour multiplier", ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class DropoutPerturbation:
    enabled: bool = param(False, "the camera sends black frames for a span of control steps")
    start_step: int = param(20, "first control step with a black frame", ge=0)
    steps: int = param(10, "number of black frames", ge=1)


@dataclasses.dataclass(frozen=True)
class PushPerturbation:
    enabled: bool = param(False, "an external force pushes one link for a span of control steps")
    start_step: int = param(15, "first control step of the push", ge=0)
    steps: int = param(2, "control steps the force lasts", ge=1)
    force: tuple[float, float, float] = param((0.0, 60.0, 0.0), "world-frame force (N)")
    link: str = param("forearm_link", "link the force acts on (at its origin)")


@dataclasses.dataclass(frozen=True)
class Perturbations:
    """Out-of-distribution conditions for evaluation; each one switchable on its own."""

    lighting: LightingPerturbation = param(LightingPerturbation(), "lighting change")
    camera_offset: CameraOffsetPerturbation = param(CameraOffsetPerturbation(),
                                                    "camera pose offset")
    distractor: DistractorPerturbation = param(DistractorPerturbation(), "distractor object")
    colour: ColourPerturbation = param(ColourPerturbation(), "colour change")
    dropout: DropoutPerturbation = param(DropoutPerturbation(), "camera dropout")
    push: PushPerturbation = param(PushPerturbation(), "external push")

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(Perturbations))

    def enabled(self) -> tuple[str, ...]:
        return tuple(n for n in self.names() if getattr(self, n).enabled)

    def only(self, *names: str) -> Perturbations:
        """These perturbations switched on and every other one off."""
        unknown = set(names) - set(self.names())
        if unknown:
            raise ConfigError(f"unknown perturbation(s) {sorted(unknown)}; choose from "
                              f"{', '.join(self.names())}")
        return Perturbations(**{
            n: dataclasses.replace(getattr(self, n), enabled=n in names) for n in self.names()})


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """The embedded MuJoCo arm."""

    robot: str = param("config/robots/wmp_arm.yaml", "robot config file")
    image_width: int = param(64, "camera image width (px)", ge=8, le=4096)
    image_height: int = param(64, "camera image height (px)", ge=8, le=4096)
    control_period: float = param(0.1, "seconds between commands (and observations)",
                                  gt=0.0, le=1.0)
    physics_timestep: float = param(0.002, "MuJoCo integration step (s)", gt=0.0, le=0.01)
    position_gain: float = param(300.0, "servo stiffness of every joint (N m/rad)", gt=0.0)
    damping_ratio: float = param(1.0, "servo damping relative to critical", gt=0.0, le=5.0)
    shadows: bool = param(True, "render shadows (a depth cue for the camera)")

    def __post_init__(self) -> None:
        steps = self.control_period / self.physics_timestep
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ConfigError(f"control_period ({self.control_period}) must be a whole multiple "
                              f"of physics_timestep ({self.physics_timestep})")


@dataclasses.dataclass(frozen=True)
class ReachTaskConfig:
    """Reach task: drive the tool to where it is in a goal image."""

    episode_steps: int = param(60, "control steps per episode", ge=1)
    success_radius: float = param(0.03, "tool within this distance of the goal is success (m)",
                                  gt=0.0)
    joint_margin: float = param(0.25, "goals and starts stay this far inside joint limits (rad)",
                                ge=0.0)
    min_tool_height: float = param(0.08, "goal tool height above the floor (m)", ge=0.0)
    min_goal_distance: float = param(0.12, "start tool to goal tool distance at least (m)",
                                     ge=0.0)
    image_margin: float = param(0.08, "goal tool stays this fraction inside the image border",
                                ge=0.0, lt=0.5)
    yaw_range: float = param(1.4, "goal base yaw within +- this (rad), facing the camera", gt=0.0)


@dataclasses.dataclass(frozen=True)
class ExplorationConfig:
    """How `wmp collect` moves the arm: smooth random motion mixed with goal-directed segments."""

    goal_directed_fraction: float = param(0.5, "share of segments that move to a random target",
                                          ge=0.0, le=1.0)
    segment_steps: tuple[int, int] = param((8, 25), "min and max control steps of a segment",
                                           ge=1)
    smoothness: float = param(0.8, "correlation of random motion from one step to the next",
                              ge=0.0, lt=1.0)
    random_scale: float = param(0.8, "random motion step size as a fraction of the action bound",
                                ge=0.0, le=1.0)
    goal_gain: float = param(0.5, "fraction of the remaining distance a goal segment covers per "
                             "step", gt=0.0, le=1.0)
    goal_noise: float = param(0.15, "noise on goal-directed steps, fraction of the action bound",
                              ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class RandomizationConfig:
    """Per-episode variation of the scene in training data.

    The default is mild (the shipped model's data), well inside the evaluation perturbations so
    the model does not learn one exact light level or camera pose. config/collect_wide.yaml turns
    on the wider options below (key light, floor tint, a moving box); the fields default to off
    so the mild config keeps giving the same episodes."""

    enabled: bool = param(True, "vary the scene per episode")
    light_intensity: tuple[float, float] = param((0.8, 1.2), "light brightness range", gt=0.0)
    light_tint: float = param(0.05, "per-channel light colour variation", ge=0.0, le=0.5)
    key_light_shift: float = param(0.0, "key light position jitter per axis (m)", ge=0.0)
    camera_translation: float = param(0.01, "camera position jitter per axis (m)", ge=0.0)
    camera_rotation_deg: float = param(0.75, "camera angle jitter per axis (degrees)", ge=0.0)
    hue_jitter: float = param(0.02, "arm colour hue variation (fraction of the wheel)",
                              ge=0.0, le=0.5)
    floor_tint: float = param(0.0, "floor colour: each channel scaled by a factor drawn from "
                              "[1 - floor_tint, 1]", ge=0.0, lt=1.0)
    distractor_probability: float = param(0.0, "fraction of episodes with a box moving through "
                                          "the workspace", ge=0.0, le=1.0)
    distractor_size: tuple[float, float] = param((0.03, 0.08), "half edge range of the box (m)",
                                                 gt=0.0, le=0.5)
    distractor_low: tuple[float, float, float] = param((-0.1, -0.45, 0.03),
                                                       "orbit centre range, low corner (m)")
    distractor_high: tuple[float, float, float] = param((0.5, 0.45, 0.2),
                                                        "orbit centre range, high corner (m)")
    distractor_radius: float = param(0.15, "largest orbit radius (m)", ge=0.0)
    distractor_period: tuple[float, float] = param((3.0, 12.0), "orbit period range (s)", gt=0.0)


@dataclasses.dataclass(frozen=True)
class SimNodeParams:
    """How the mujoco_sim node runs the simulator behind ROS topics."""

    joint_state_rate: float = param(50.0, "joint_states publish rate (Hz)", gt=0.0, le=1000.0)
    camera_rate: float = param(10.0, "camera/image_raw publish rate (Hz)", gt=0.0, le=240.0)
    real_time_factor: float = param(1.0, "simulated seconds per wall second (0: as fast as "
                                    "possible)", ge=0.0)
    publish_clock: bool = param(True, "publish /clock with simulation time")
    task_enabled: bool = param(True, "cycle seeded reach goals on task/goal_image, "
                               "task/goal_joints and report each on task/result")
    goals: int = param(0, "goals before the node stops publishing new ones (0: forever)", ge=0)
    seed: int = param(0, "seed of the task sequence", ge=0)
    settle_steps: int = param(3, "control periods within the success radius that end a goal",
                              ge=1)
    camera_frame: str = param("scene_camera_optical_frame", "frame_id of camera messages")
    start_on_command: bool = param(False, "hold the first goal's clock until the first command "
                                   "arrives, so a planner still loading does not lose it")
    reset_hold: float = param(0.1, "after the reset to each next goal, hold the arm at its "
                              "start for this long (s) and drop commands, which were planned on "
                              "the previous goal's frames; the goal's clock starts after it",
                              ge=0.0)


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """config/sim.yaml (the mujoco_sim node's parameter file): simulator, task, perturbations."""

    sim: SimConfig = param(SimConfig(), "simulator")
    task: ReachTaskConfig = param(ReachTaskConfig(), "reach task (goal sampling, episode length)")
    perturbations: Perturbations = param(Perturbations(), "out-of-distribution conditions")
    node: SimNodeParams = param(SimNodeParams(), "ROS node behaviour (mujoco_sim only)")


@dataclasses.dataclass(frozen=True)
class RecorderConfig:
    """config/recorder.yaml: what the recorder node writes to MCAP for training on real data."""

    output_dir: str = param("recordings", "folder for .mcap files (created)")
    prefix: str = param("wmp", "file name prefix; files are <prefix>_<UTC time>.mcap")
    record_images: bool = param(True, "record camera/image_raw (needed for training)")
    split_seconds: float = param(0.0, "start a new file after this many seconds (0: never)",
                                 ge=0.0)
    chunk_size: int = param(4 * 1024 * 1024, "MCAP chunk size (bytes)", ge=1024)
    compression: Literal["zstd", "lz4", "none"] = param("zstd", "MCAP chunk compression")


SIM_NODE = "mujoco_sim"


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """config/collect.yaml: how `wmp collect` explores (the scene itself is config/sim.yaml)."""

    exploration: ExplorationConfig = param(ExplorationConfig(), "exploration policy")
    randomization: RandomizationConfig = param(RandomizationConfig(), "scene variation")
    actuation_delay: tuple[float, float] = param(
        (0.0, 0.0), "range (s) from which each episode draws how late its commands act: the "
        "previous command holds for that long at the start of every period, as behind a ROS "
        "node's planning time and servo tick (README, 'Where it fails')", ge=0.0)
    episodes_per_shard: int = param(20, "episodes per shard file", ge=1)
    compression: int = param(6, "zlib level for shards (0 store .. 9 smallest)", ge=0, le=9)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of the world model's networks (config/train.yaml, section model)."""

    latent_dim: int = param(32, "size of the latent state", ge=2, le=1024)
    cnn_channels: tuple[int, int, int, int] = param(
        (32, 64, 96, 128), "channels of the four stride-2 convolutions", ge=1)
    image_features: int = param(256, "image embedding size", ge=8)
    proprio_features: int = param(64, "joint-state embedding size", ge=8)
    encoder_hidden: int = param(256, "hidden units of the encoder's fusion MLP", ge=8)
    ensemble_size: int = param(5, "latent dynamics members", ge=1, le=32)
    dynamics_hidden: int = param(128, "hidden units of each dynamics member", ge=8)
    dynamics_layers: int = param(2, "hidden layers of each dynamics member", ge=1, le=8)
    head_hidden: int = param(128, "hidden units of the proprio head", ge=8)
    cnn_blocks: int = param(0, "3x3 residual convolutions after each stride-2 convolution: a "
                            "deeper image path at the same parameter budget", ge=0, le=4)


@dataclasses.dataclass(frozen=True)
class LossWeights:
    latent: float = param(1.0, "imagined latents against target latents", ge=0.0)
    proprio: float = param(1.0, "proprio head against measured joint state", ge=0.0)
    consistency: float = param(0.5, "encodings with a modality dropped against full ones", ge=0.0)
    variance: float = param(1.0, "VICReg variance hinge (jepa)", ge=0.0)
    covariance: float = param(0.04, "VICReg covariance penalty (jepa)", ge=0.0)
    reconstruction: float = param(1.0, "pixel reconstruction", ge=0.0)
    latent_l2: float = param(1.0, "L2 penalty on encodings, reconstruction objective only: its "
                             "latent and consistency targets come from the encoder itself, so "
                             "without it the latent scale can run away (jepa has VICReg)", ge=0.0)
    image_pose: float = param(2.0, "joint angles from image-only encodings (the goal-image "
                              "path), on top of the proprio term", ge=0.0)
    discount: float = param(0.9, "weight of imagined step t is discount**t", gt=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    seed: int = param(0, "seed of initialisation, batching and the split", ge=0)
    steps: int = param(8000, "stage 2 (world model) optimiser steps at most; 0: stage 1 only",
                       ge=0)
    batch_size: int = param(48, "sequences per step (per process under torchrun)", ge=1)
    horizon: int = param(6, "imagined steps the loss covers", ge=1, le=64)
    learning_rate: float = param(1e-3, "AdamW peak learning rate", gt=0.0)
    weight_decay: float = param(1e-5, "AdamW weight decay", ge=0.0)
    warmup_steps: int = param(200, "linear learning-rate warm-up", ge=0)
    grad_clip: float = param(10.0, "gradient norm clip", gt=0.0)
    ema: float = param(0.99, "target encoder EMA rate (jepa)", ge=0.0, lt=1.0)
    image_dropout: float = param(0.15, "probability an encoding sees no image", ge=0.0, lt=1.0)
    proprio_dropout: float = param(0.5, "probability an encoding sees no joint state",
                                   ge=0.0, lt=1.0)
    member_keep: float = param(0.8, "bootstrap: chance a sequence trains a dynamics member",
                               gt=0.0, le=1.0)
    val_fraction: float = param(0.1, "episodes held out for validation", gt=0.0, lt=1.0)
    eval_every: int = param(250, "steps between validations and checkpoints", ge=1)
    val_batches: int = param(8, "batches per validation", ge=1)
    patience: int = param(6, "validations without improvement before stopping", ge=1)
    threads: int = param(0, "torch CPU threads (0: all cores / processes)", ge=0)
    device: str = param("auto", "where to train: auto (cuda when PyTorch sees a GPU), cpu, "
                        "cuda, or cuda:N")
    init_from: str = param("", "training folder to start from: its weights are loaded and "
                           "stage 1 runs for init_pretrain_steps instead of pretrain_steps "
                           "(fine-tuning, or several runs sharing stage 1)")
    pretrain_steps: int = param(12000, "stage 1: steps teaching the encoder joint angles from "
                                "images alone, before the world-model objectives", ge=0)
    pretrain_batch: int = param(128, "stage 1: frames per step", ge=1)
    pretrain_learning_rate: float = param(2e-3, "stage 1: peak learning rate", gt=0.0)
    image_shift: int = param(3, "random image shift augmentation (px, each way)", ge=0, le=16)
    colour_jitter: float = param(0.0, "random per-frame colour changes seen by the online "
                                 "encoder, 0 (off) to 1: hue turned by up to 0.35 of the wheel, "
                                 "brightness x0.4-1.3, each channel x0.6-1.4 at 1",
                                 ge=0.0, le=1.0)
    init_pretrain_steps: int = param(0, "stage-1 steps run on the weights loaded by init_from "
                                     "(adapts the image path to new data before stage 2)", ge=0)
    cnn_learning_rate_scale: float = param(0.3, "stage 2: learning rate of the convolutions "
                                           "relative to the rest (keeps what stage 1 learned)",
                                           ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """config/train.yaml: the world model and how `wmp train` fits it."""

    objective: Literal["jepa", "reconstruction"] = param(
        "jepa", "what shapes the latent: predicting target-encoder latents, or pixels")
    model: ModelConfig = param(ModelConfig(), "network sizes")
    loss: LossWeights = param(LossWeights(), "loss weights")
    optim: OptimConfig = param(OptimConfig(), "optimisation")


@dataclasses.dataclass(frozen=True)
class CostWeights:
    """Terms of the planning cost, summed over the imagined steps."""

    latent_goal: float = param(0.2, "squared latent distance to the goal latent (image goals)",
                               ge=0.0)
    tool_goal: float = param(20.0, "tool distance to the goal (per m)", ge=0.0)
    joint_goal: float = param(10.0, "squared joint distance to the goal joints when known or "
                              "estimated (per rad^2): approach the goal in the configuration "
                              "it was shown in, not a mirrored one", ge=0.0)
    terminal: float = param(2.0, "extra weight of the last imagined step's goal terms", ge=0.0)
    smoothness: float = param(0.5, "squared change of action between steps (per bound^2)",
                              ge=0.0)
    joint_limit: float = param(50.0, "squared intrusion into the joint-limit margin (per rad^2)",
                               ge=0.0)
    limit_margin: float = param(0.15, "start of the joint-limit barrier inside the limits (rad)",
                                ge=0.0)
    disagreement: float = param(1.0, "ensemble disagreement (latent variance)", ge=0.0)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    algorithm: Literal["cem", "mppi"] = param("cem", "sampling-based optimiser")
    samples: int = param(256, "action sequences evaluated per iteration", ge=2, le=65536)
    iterations: int = param(3, "optimiser iterations per control step", ge=1, le=50)
    elites: int = param(32, "CEM: sequences that refit the sampling distribution", ge=1)
    temperature: float = param(0.1, "MPPI: softmax temperature relative to the cost spread",
                               gt=0.0)
    init_std: float = param(0.5, "initial sampling spread, fraction of the action bound",
                            gt=0.0, le=2.0)
    min_std: float = param(0.05, "smallest sampling spread, fraction of the action bound",
                           gt=0.0, le=2.0)
    momentum: float = param(0.1, "share of the previous mean kept at each refit", ge=0.0,
                            lt=1.0)
    warm_start: bool = param(True, "start from the previous plan shifted by one step")
    seed: int = param(0, "sampling seed", ge=0)


@dataclasses.dataclass(frozen=True)
class RefitConfig:
    """`wmp refit-ensemble` (core/model/ensemble_refit.py); the command line sets every field."""

    horizon: int = 20
    steps: int = 6000
    batch_size: int = 256
    learning_rate: float = 3e-4
    warmup_steps: int = 200
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    bootstrap: bool = True  # false: every member sees every episode (for comparison)
    fresh: bool = False  # true: members start from new random weights, not the source's
    seed: int = 0
    eval_every: int = 500


@dataclasses.dataclass(frozen=True)
class HardenConfig:
    """`wmp harden-encoder` (core/model/encoder_invariance.py); the command line sets every
    field."""

    steps: int = 4000
    batch_size: int = 128
    learning_rate: float = 3e-4
    warmup_steps: int = 200
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    every: int = 2  # redraw every n-th frame of each episode (neighbours look alike)
    original_fraction: float = 0.25  # share of each batch shown the frames as recorded
    blank_fraction: float = 0.05  # share shown a black frame, as a dropped camera sends
    image_shift: int = 3  # px each way, as the main training shifts frames
    cnn_blocks: int = 0  # residual convolutions per stage of the student (0: the model's)
    workers: int = 2  # processes drawing the frames
    seed: int = 0
    eval_every: int = 500


@dataclasses.dataclass(frozen=True)
class SurpriseConfig:
    enabled: bool = param(True, "compare each observation with the model's prediction of it")
    reground_scale: float = param(1.0, "multiplier of the calibrated re-ground threshold",
                                  gt=0.0)
    hold_scale: float = param(1.0, "multiplier of the calibrated hold threshold", gt=0.0)
    hold_after: int = param(3, "consecutive steps above the hold threshold before holding",
                            ge=1)
    tracking: bool = param(True, "also compare measured joints with the position loop's "
                                 "calibrated answer to the last command (pushes, collisions)")


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """The latent MPC planner (planner node parameters, `wmp eval`, `wmp bench`)."""

    model: str = param("models/wmp_arm_reach", "model folder (ONNX files + meta.json)")
    robot: str = param("config/robots/wmp_arm.yaml", "robot config file")
    backend: Literal["onnx", "torch"] = param("onnx", "inference engine")
    providers: str = param("auto", "ONNX Runtime providers: auto, or a list like cuda,cpu")
    threads: int = param(0, "inference threads (0: the cores this process may use)", ge=0)
    batch_shards: bool = param(True, "ONNX Runtime on the CPU: run each batched call as one "
                               "single-threaded slice of the batch per thread, side by side "
                               "(false: one call over ONNX Runtime's intra-op threads)")
    torch_device: str = param("cpu", "backend torch only: cpu, cuda or cuda:N")
    cuda_graphs: bool = param(True, "backend torch on a GPU: replay each network call as a "
                              "captured CUDA graph (a few launches instead of dozens)")
    fused: bool = param(True, "backend torch: run the whole optimisation (sampling, rollouts, "
                        "cost terms, refit) as torch code on torch_device, on a GPU replayed as "
                        "one CUDA graph per plan; false: the numpy optimiser between model calls")
    horizon: int = param(8, "imagined steps per plan (must equal the model's horizon)", ge=1)
    optimizer: OptimizerConfig = param(OptimizerConfig(), "CEM / MPPI settings")
    cost: CostWeights = param(CostWeights(), "cost terms")
    surprise: SurpriseConfig = param(SurpriseConfig(), "surprise monitor")
    refine_goal: bool = param(True, "image goals: re-estimate the goal joints each step from the "
                              "difference between the current and the goal image")
    goal_smoothing: float = param(0.7, "image goals: weight of the previous goal estimate in each "
                                  "update (0: use each step's estimate as it is)", ge=0.0, lt=1.0)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """`wmp eval`: which methods, conditions and episodes."""

    episodes: int = param(50, "episodes per method and condition", ge=1)
    seed: int = param(1000, "seed of the held-out tasks (collection uses others)", ge=0)
    methods: tuple[str, ...] = param(("wm_cem", "wm_mppi", "oracle", "random", "p_controller"),
                                     "methods to run")
    conditions: tuple[str, ...] = param(
        ("nominal", "lighting", "camera_offset", "distractor", "colour", "dropout", "push"),
        "conditions to run")
    settle_steps: int = param(3, "steps within the success radius that end an episode", ge=1)
    p_gain: float = param(0.5, "P-controller: share of the joint error closed per step",
                          gt=0.0, le=1.0)
    detection_window: int = param(3, "control steps within which an event must be flagged",
                                  ge=1)
    oracle_threads: int = param(2, "MuJoCo rollout threads of the oracle", ge=1)


@dataclasses.dataclass(frozen=True)
class WatchdogConfig:
    camera_timeout: float = param(0.2, "camera silent longer than this (s) holds the arm", gt=0.0)
    joint_state_periods: float = param(2.0, "joint states silent for this many control periods "
                                       "hold the arm", gt=0.0)
    resume_on_fresh_data: bool = param(True, "resume commanding when fresh data returns "
                                       "(false: stay held until deactivated and re-activated)")


@dataclasses.dataclass(frozen=True)
class PlannerNodeConfig:
    """config/planner.yaml: the planner node's parameters (ROS parameter file, node `planner`)."""

    planner: PlannerConfig = param(PlannerConfig(), "planner, model and robot")
    command_interface: Literal["position", "trajectory"] = param(
        "position", "position: Float64MultiArray to the forward position controller; trajectory: "
        "JointTrajectory to the joint trajectory controller")
    control_rate: float = param(0.0, "control loop rate (Hz); 0: the model's own rate (it was "
                                "trained at one control period)", ge=0.0, le=1000.0)
    autostart: bool = param(False, "configure and activate on start-up (sim); real arms are "
                            "activated by an operator")
    trigger_on_image: bool = param(True, "run each control step on the first camera frame due "
                                   "for it, so plans start from the newest image; a timer "
                                   "takes over when frames stop (false: the timer alone)")
    publish_imagined: bool = param(True, "publish ~/imagined_path markers and ~/imagined_image")
    imagined_image_every: int = param(5, "decode the imagined image every N control steps",
                                      ge=1)
    diagnostics_rate: float = param(1.0, "/diagnostics rate (Hz)", gt=0.0, le=50.0)
    watchdog: WatchdogConfig = param(WatchdogConfig(), "stale-data watchdog")
    velocity_scale: float = param(0.0, "cap on the robot config's velocity_scale for command "
                                  "limits (0: no cap); real mode caps it at 0.3", ge=0.0, le=1.0)


PLANNER_NODE = "planner"
