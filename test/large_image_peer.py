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
"""One side of the large-image transport test: `pub` sends 640x480 frames whose pixels encode
their sequence number, `sub` prints one JSON line with what arrived intact. Run as a separate
process so Fast DDS reads FASTDDS_DEFAULT_PROFILES_FILE from its environment at start-up."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image

from world_model_planner import graph
from world_model_planner.nodes import messages as m

HEIGHT, WIDTH = 480, 640


def frame(seq: int) -> np.ndarray:
    rng = np.random.default_rng(seq)
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def publish(count: int, rate: float) -> None:
    node = Node("wmp_large_image_pub")
    pub = node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
    deadline = time.monotonic() + 20.0
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)  # let the reader's transports match too
    for seq in range(count):
        msg = m.rgb_to_image(frame(seq))
        msg.header.frame_id = str(seq)
        pub.publish(msg)
        time.sleep(1.0 / rate)
    node.destroy_node()


def subscribe(seconds: float) -> None:
    node = Node("wmp_large_image_sub")
    intact, corrupt = [], 0

    def on_image(msg: Image) -> None:
        nonlocal corrupt
        seq = int(msg.header.frame_id)
        if np.array_equal(m.image_to_rgb(msg), frame(seq)):
            intact.append(seq)
        else:
            corrupt += 1

    node.create_subscription(Image, graph.CAMERA_IMAGE, on_image, m.SENSOR_QOS)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    print(json.dumps({"intact": len(set(intact)), "corrupt": corrupt}), flush=True)
    node.destroy_node()


if __name__ == "__main__":
    rclpy.init()
    try:
        if sys.argv[1] == "pub":
            publish(int(sys.argv[2]), float(sys.argv[3]))
        else:
            subscribe(float(sys.argv[2]))
    finally:
        rclpy.try_shutdown()
