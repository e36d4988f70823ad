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
"""Loading and checking configuration: the machinery every subsystem's schema uses.

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
