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
"""`wmp collect` throughput (frames/s) and disk use per 10,000 frames at 64x64.

    python bench/collect_throughput.py [--episodes 100] [--workers 1]
"""

import argparse
import sys
import tempfile

from world_model_planner.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        sys.exit(main(["collect", "--episodes", str(args.episodes), "--out", out, "--seed", "0",
                       "--workers", str(args.workers), "--quiet", "--json"]))
