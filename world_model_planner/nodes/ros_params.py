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
"""One ROS parameter per leaf of a config dataclass, validated like the YAML loader.

A node's parameter file is also the core's config file (core/config/), so both must accept and
reject the same things. The overrides the node was started with (`--params-file`, `-p`) are
validated here with :func:`core.config.from_dict` before anything is declared: a typo, a wrong type
or an out-of-range value stops the node at start-up with the dotted key named, exactly as
`wmp` reports it for the same file. Each parameter is then declared with its description and its
range (so `ros2 param describe` and rqt show them) and with the validated value; an integer given
for a floating-point field is accepted, as in YAML.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core import config as cfg

T = TypeVar("T")

# Parameters every rclpy node may receive that are not part of a config class.
ROS_OWN_PARAMETERS = ("use_sim_time", "start_type_description_service")
ROS_OWN_PREFIXES = ("qos_overrides.",)
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
DOUBLE_MAX = sys.float_info.max

_SCALAR_TYPES = {bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER,
                 float: Parameter.Type.DOUBLE, str: Parameter.Type.STRING}
_ARRAY_TYPES = {bool: Parameter.Type.BOOL_ARRAY, int: Parameter.Type.INTEGER_ARRAY,
                float: Parameter.Type.DOUBLE_ARRAY, str: Parameter.Type.STRING_ARRAY}


def source_of(node: Node) -> str:
    """How errors name where the values came from."""
    return f"ROS parameters of {node.get_fully_qualified_name()}"


def parameter_type(tp: Any) -> Parameter.Type | None:
    """The ROS parameter type of a config field type; None: dynamically typed (Any, unions)."""
    origin = get_origin(tp)
    if origin is Literal:
        kinds = {type(a) for a in get_args(tp)}
        return _SCALAR_TYPES.get(kinds.pop()) if len(kinds) == 1 else None
    if origin in (tuple, list):
        items = [a for a in get_args(tp) if a is not Ellipsis]
        kinds = set(items)
        return _ARRAY_TYPES.get(kinds.pop()) if len(kinds) == 1 else None
    return _SCALAR_TYPES.get(tp)


def constraints_text(tp: Any, field: dataclasses.Field[Any]) -> str:
    """The allowed values in words (ROS ranges cover scalars only; this covers arrays too)."""
    words = []
    if get_origin(tp) is Literal:
        words.append("one of " + ", ".join(repr(a) for a in get_args(tp)))
    for bound, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        limit = field.metadata.get(bound)
        if limit is not None:
            words.append(f"{op} {limit}")
    if get_origin(tp) is tuple and get_args(tp) and get_args(tp)[-1] is not Ellipsis:
        words.append(f"exactly {len(get_args(tp))} values")
    if not words:
        return ""
    each = "each value " if get_origin(tp) in (tuple, list) else ""
    return each + ", ".join(words)


def descriptor_for(name: str, tp: Any, field: dataclasses.Field[Any], *,
                   read_only: bool = True) -> ParameterDescriptor:
    """Description, constraints and (for scalars) the range of one config leaf."""
    kind = parameter_type(tp)
    desc = ParameterDescriptor(name=name, description=field.metadata.get("doc", ""),
                               additional_constraints=constraints_text(tp, field),
                               read_only=read_only, dynamic_typing=kind is None)
    meta = field.metadata
    lower = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
    upper = meta.get("le") if meta.get("le") is not None else meta.get("lt")
    if lower is None and upper is None:
        return desc
    # ROS ranges are inclusive; strict bounds (gt, lt) are enforced by the config validation.
    if kind == Parameter.Type.INTEGER:
        lo = INT64_MIN if lower is None else int(lower) + (meta.get("ge") is None)
        hi = INT64_MAX if upper is None else int(upper) - (meta.get("le") is None)
        desc.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=0)]
    elif kind == Parameter.Type.DOUBLE:
        desc.floating_point_range = [FloatingPointRange(
            from_value=-DOUBLE_MAX if lower is None else float(lower),
            to_value=DOUBLE_MAX if upper is None else float(upper), step=0.0)]
    return desc


def to_parameter_value(tp: Any, value: Any) -> Any:
    """A validated config value as rclpy takes it: tuples as lists, empty arrays as their type."""
    if isinstance(value, (list, tuple)):
        if not value:
            return parameter_type(tp) or Parameter.Type.STRING_ARRAY
        return list(value)
    return value


def _given_overrides(node: Node) -> dict[str, Any] | None:
    """The values the node was started with (--params-file, -p, constructor overrides).

    rclpy keeps them in Node._parameter_overrides (Foxy to Kilted) and has no public getter;
    None tells the caller to let declare_parameter apply them instead.
    """
    overrides = getattr(node, "_parameter_overrides", None)
    if not isinstance(overrides, Mapping):
        return None
    return {name: p.value for name, p in overrides.items()}


def declare_config(node: Node, cls: type[T], *, read_only: bool = True,
                   other_parameters: Collection[str] = ()) -> T:
    """Declare one parameter per leaf of config class `cls` on `node` and return the config.

    The node's overrides are validated first (raises core.config.ConfigError naming the key); the
    parameters are then declared with the validated values. read_only=False allows run-time
    changes, each checked by the same validation (see :func:`validate_updates`).
    other_parameters: names the node declares itself; other unknown names are logged.
    """
    leaves = cfg.leaves(cls)
    sections = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = _given_overrides(node)
    source = source_of(node)
    if given is not None:
        ours = {k: v for k, v in given.items() if k.split(".")[0] in sections}
        config = cfg.from_dict(cls, cfg.unflatten(ours), source=source)
        foreign = sorted(k for k in given if k not in ours and k not in ROS_OWN_PARAMETERS
                         and k not in other_parameters
                         and not k.startswith(ROS_OWN_PREFIXES))
        if foreign:
            node.get_logger().warning(
                f"{source}: ignoring unknown parameter(s) {', '.join(foreign)} (this node reads "
                f"{', '.join(sorted(sections))})")
    else:
        config = cfg.from_dict(cls, {}, source=source)
    values = cfg.flatten(config)
    declarations = [(name, to_parameter_value(tp, values[name]),
                     descriptor_for(name, tp, field, read_only=read_only))
                    for name, tp, field in leaves]
    node.declare_parameters("", declarations, ignore_override=given is not None)
    if given is None:
        config = read_config(node, cls)
    if not read_only:
        validate_updates(node, cls)
    return config


def _current_values(node: Node, cls: type) -> dict[str, Any]:
    out = {}
    for name, _tp, _field in cfg.leaves(cls):
        if not node.has_parameter(name):
            continue
        param = node.get_parameter_or(name, Parameter(name, Parameter.Type.NOT_SET, None))
        if param.type_ != Parameter.Type.NOT_SET:
            out[name] = param.value
    return out


def read_config(node: Node, cls: type[T]) -> T:
    """The config as the node's parameters hold it now, validated like the YAML loader."""
    return cfg.from_dict(cls, cfg.unflatten(_current_values(node, cls)), source=source_of(node))


def validate_updates(node: Node, cls: type) -> Callable[[list[Parameter]], SetParametersResult]:
    """Reject run-time parameter changes that the config validation would reject at start-up."""
    names = {name for name, _tp, _field in cfg.leaves(cls)}

    def check(params: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in params if p.name in names}
        if not changes:
            return SetParametersResult(successful=True)
        merged = {**_current_values(node, cls), **changes}
        try:
            cfg.from_dict(cls, cfg.unflatten(merged), source=source_of(node))
        except cfg.ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(check)
    return check


__all__ = ["declare_config", "descriptor_for", "parameter_type", "read_config",
           "source_of", "to_parameter_value", "validate_updates"]
