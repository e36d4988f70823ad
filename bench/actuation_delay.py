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
"""What an actuation delay does to the surprise monitor: the in-process loop, commands late.

In `wmp eval` each command acts from the frame it was planned on to the next one; in the ROS node
the previous command stays in charge while the planner runs and the servo waits for its tick.
This runs the shipped controller in closed loop on seeded reach goals with the previous command
held for the first `--delay` seconds of every period, and prints the monitor's decisions, the
model's one-step joint prediction error (positions and velocities) and goals reached:

    python bench/actuation_delay.py --delay 0.02 [--goals 15] [--steps 40] [--tracking]

README ("Where it fails") quotes it at 0 and 20 ms.
"""

import argparse
import collections
import dataclasses
import json

import numpy as np

from world_model_planner.core import config as cfg
from world_model_planner.core.paths import resolve
from world_model_planner.core.planning.backends import load_world_model
from world_model_planner.core.planning.controller import MPCController
from world_model_planner.core.safety import SurpriseThresholds
from world_model_planner.core.sim.arm import ArmSim
from world_model_planner.core.sim.reach import ReachTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds each command is late")
    parser.add_argument("--goals", type=int, default=15)
    parser.add_argument("--steps", type=int, default=40, help="control steps per goal")
    parser.add_argument("--tracking", action="store_true", help="position-loop check on too")
    parser.add_argument("--planner-config", default="config/planner.yaml")
    parser.add_argument("--sim-config", default="config/sim.yaml")
    args = parser.parse_args()

    node = cfg.load(cfg.PlannerNodeConfig, resolve(args.planner_config, kind="planner config"),
                    node=cfg.PLANNER_NODE)
    planner = dataclasses.replace(node.planner, surprise=dataclasses.replace(
        node.planner.surprise, tracking=args.tracking))
    simulation = cfg.load(cfg.SimulationConfig, resolve(args.sim_config, kind="sim config"),
                          node=cfg.SIM_NODE)
    sim = ArmSim(simulation.sim)
    task = ReachTask(sim, simulation.reach)
    model = load_world_model(planner.model, planner, sim.robot)
    thresholds = SurpriseThresholds.from_meta(model.meta["surprise"])
    period = simulation.sim.control_period
    if not 0.0 <= args.delay < period:
        parser.error(f"--delay must lie in [0, {period}) s (one control period)")

    decisions: collections.Counter[str] = collections.Counter()
    errors, scores, reached = [], [], 0
    joints = sim.robot.dof
    for goal_index in range(args.goals):
        start, goal_q = task.sample_episode(np.random.default_rng(1000 + goal_index))
        obs = sim.reset(start)
        goal = task.make_goal(goal_q)
        controller = MPCController(model, sim.robot, planner, period, surprise=thresholds)
        controller.set_goal_image(goal.image)
        previous = obs.qpos.copy()
        for _ in range(args.steps):
            predicted = controller.predicted_joint_state()
            result = controller.step(obs)
            decisions[result.decision] += 1
            if predicted is not None:
                errors.append(np.abs(predicted - np.concatenate([obs.qpos, obs.qvel])))
                scores.append(result.surprise)
            if args.delay > 0:
                sim.advance(previous, args.delay)
            sim.advance(result.command, period - args.delay)
            obs = sim.observe()
            previous = result.command
        reached += int(task.error(goal) < simulation.reach.success_radius)
    err = np.array(errors)
    print(json.dumps({
        "delay_s": args.delay, "tracking": args.tracking, "goals": args.goals,
        "steps": int(sum(decisions.values())), "decisions": dict(decisions),
        "reached": reached,
        "position_error_rad": err[:, :joints].mean(0).round(4).tolist(),
        "velocity_error_rad_s": err[:, joints:].mean(0).round(4).tolist(),
        "surprise_median": round(float(np.nanmedian(scores)), 3),
    }))


if __name__ == "__main__":
    main()
