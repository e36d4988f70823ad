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
"""Image-to-command latency over DDS at 10 Hz and at higher rates, and the load soak.

    python bench/dds_latency.py latency [--rates 10,20,30] [--seconds 30] [-p NAME:=VALUE ...]
    python bench/dds_latency.py soak [--minutes 10] [--fastdds-profile shipped]

--fastdds-profile loads a Fast DDS XML profile in both processes ("shipped":
config/fastdds_large_images.xml, which full-size camera frames need; docs/BENCHMARKS.md).
Set ROS_DOMAIN_ID to a free domain and ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST first. Prints
one JSON object; the figures in docs/BENCHMARKS.md come from these commands.
"""

import argparse
import json
import os
import sys

from world_model_planner import graph
from world_model_planner.benchmarks.dds import measure
from world_model_planner.core.paths import share_path

PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("latency", "soak"))
    parser.add_argument("--rates", default="10,20,30", help="control rates to try (Hz)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per rate")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak duration")
    parser.add_argument("--model", default=None, help="model folder (default: shipped)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="a further planner node parameter, e.g. planner.batch_shards:=false")
    parser.add_argument("--fastdds-profile", default=None,
                        help="Fast DDS XML profile for the driver and the planner: a file, or "
                        "'shipped' for config/fastdds_large_images.xml")
    args = parser.parse_args()
    if args.fastdds_profile:
        profile = share_path(graph.FASTDDS_LARGE_IMAGES) \
            if args.fastdds_profile == "shipped" else os.path.abspath(args.fastdds_profile)
        if not os.path.isfile(profile):
            parser.error(f"--fastdds-profile: no such file {profile}")
        os.environ[PROFILE_VARIABLE] = str(profile)  # before rclpy starts, inherited by the node
    if args.what == "latency":
        result = {"runs": [measure(float(r), args.seconds, model=args.model, params=args.param)
                           for r in args.rates.split(",")]}
        sustained = [r["rate_hz"] for r in result["runs"]
                     if r["achieved_rate_hz"] >= 0.95 * r["rate_hz"]
                     and r["period_p99_over_nominal"] <= 1.5]
        result["highest_sustained_rate_hz"] = max(sustained) if sustained else None
    else:
        result = measure(10.0, 60.0 * args.minutes, model=args.model, camera_hz=30.0,
                         joints_hz=500.0, width=640, height=480, warmup=30.0,
                         params=args.param)
    result["fastdds_profile"] = os.environ.get(PROFILE_VARIABLE)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
