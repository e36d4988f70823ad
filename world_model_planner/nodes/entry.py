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
"""The one way our nodes start and stop: `ros2 run`, `wmp run` and launch files all use it.

A node that cannot start (bad parameters, a missing file, no EGL) logs why and exits with status 2
like `wmp` on bad input; Ctrl-C or a launch shutdown ends it cleanly with status 0, after the
node's own close() (files flushed, simulator released), also when a callback was still running
as the shutdown began.
"""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.logging import get_logger
from rclpy.node import Node

from ..core.config import ConfigError

START_ERRORS = (ConfigError, ValueError, FileNotFoundError, RuntimeError)


def run(factory: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = factory()
    except START_ERRORS as exc:
        get_logger(name).fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        rclpy.try_shutdown()
        return 0
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise  # a failure while running: the non-zero exit says so
        # A callback that was running when the shutdown began (a plan taking its time) failed
        # to publish on the closed context: that is the shutdown, not a crash.
    finally:
        close = getattr(node, "close", None)
        if close is not None:
            close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
