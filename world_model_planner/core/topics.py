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

"""The topic contract (../DESIGN.md "Interfaces"): one place for every name.

Plain strings, so that core code that reads recordings (core/data/mcap_import.py) knows the
names without importing the ROS graph; world_model_planner.graph re-exports them.
"""

JOINT_STATES = "joint_states"
CAMERA_IMAGE = "camera/image_raw"
CAMERA_INFO = "camera/camera_info"
POSITION_COMMANDS = "forward_position_controller/commands"
TRAJECTORY_COMMANDS = "joint_trajectory_controller/joint_trajectory"
GOAL_IMAGE = "~/goal_image"
GOAL_JOINTS = "~/goal_joints"
GOAL_POSE = "~/goal_pose"
ESTOP = "~/estop"
DIAGNOSTICS = "/diagnostics"
IMAGINED_PATH = "~/imagined_path"
IMAGINED_IMAGE = "~/imagined_image"
CLOCK = "/clock"
# What the embedded simulator's task mode publishes for the planner to consume.
TASK_GOAL_IMAGE = "task/goal_image"
TASK_GOAL_JOINTS = "task/goal_joints"
TASK_RESULT = "task/result"
# The push task's object, its true pose (geometry_msgs/PoseStamped, with each camera frame):
# for evaluation and the recorder only. The planner never subscribes to it: it sees the object
# through the camera alone, as it would on a real arm.
TASK_OBJECT_POSE = "task/object_pose"
