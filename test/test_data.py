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
"""Datasets: round trip, determinism, corruption, interruption and the collect command."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from world_model_planner.core.config import CollectConfig, SimulationConfig
from world_model_planner.core.data.collect import collect
from world_model_planner.core.data.shards import Dataset, DatasetError, open_datasets, read_shard

SMALL = CollectConfig(episodes_per_shard=2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "ds"
    collect(out, 3, seed=5, config=SMALL, progress=False)
    return out


def test_round_trip_reads_back_every_episode(dataset):
    ds = Dataset(dataset)
    assert ds.validate()["episodes"] == 3
    episodes = list(ds.episodes())
    assert [e.index for e in episodes] == [0, 1, 2]
    steps = SimulationConfig().episode_steps
    for ep in episodes:
        assert ep.images.shape == (steps + 1, 64, 64, 3)
        assert ep.actions.shape == (steps, 4) and ep.qpos.shape == (steps + 1, 4)
        np.testing.assert_allclose(ep.commands, ep.qpos[:-1] + ep.actions, atol=1e-5)
        assert ep.goal_image.shape == (64, 64, 3)
    m = ds.manifest
    assert m["robot"]["joint_names"] == ["base_yaw", "shoulder_pitch", "elbow_pitch",
                                         "wrist_pitch"]
    assert m["camera"]["width"] == 64 and m["control_period"] == pytest.approx(0.1)
    assert m["seed"] == 5 and m["episodes"] == 3 and len(m["shards"]) == 2
    # which OpenGL drew the frames: pixels (so digests) differ between renderers
    assert "OpenGL" in m["renderer"] and m["renderer"] != "unknown", m["renderer"]


def test_exploration_covers_the_workspace(dataset):
    qpos = np.concatenate([e.qpos for e in Dataset(dataset).episodes()])
    lower = np.array([-2.8, -1.6, -2.5, -2.0])
    span = (qpos.max(0) - qpos.min(0)) / (2 * -lower)
    assert np.all(span > 0.25), f"joint ranges visited (fraction of limits): {span}"
    actions = np.concatenate([e.actions for e in Dataset(dataset).episodes()])
    assert (np.abs(actions) < 0.02).mean() > 0.05, "no slow, settling motion in the data"


def test_same_seed_writes_identical_shards(dataset, tmp_path):
    again = tmp_path / "again"
    collect(again, 3, seed=5, config=SMALL, progress=False)
    for name in ("shard-00000.npz", "shard-00001.npz"):
        assert (again / name).read_bytes() == (dataset / name).read_bytes()
    assert Dataset(again).digest == Dataset(dataset).digest
    other = tmp_path / "other"
    collect(other, 1, seed=6, config=SMALL, progress=False)
    assert Dataset(other).digest != Dataset(dataset).digest


def test_corrupt_shard_error_names_the_file(dataset, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in dataset.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    shard = copy / "shard-00001.npz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    shard.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="shard-00001.npz"):
        Dataset(copy).validate()
    shard.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    with pytest.raises(DatasetError, match="shard-00001.npz.*corrupt or truncated"):
        read_shard(shard)
    with pytest.raises(DatasetError, match="shard-00001.npz"):
        list(Dataset(copy).episodes())


def test_missing_manifest_and_mismatched_datasets_are_explained(tmp_path, dataset):
    with pytest.raises(DatasetError, match="manifest.json: missing"):
        Dataset(tmp_path)
    big = tmp_path / "big"
    sim = SimulationConfig()
    import dataclasses
    sim = dataclasses.replace(sim, sim=dataclasses.replace(sim.sim, image_width=32,
                                                           image_height=32))
    collect(big, 1, seed=1, simulation=sim, config=SMALL, progress=False)
    with pytest.raises(DatasetError, match="image size"):
        open_datasets([dataset, big])


def test_resume_recollects_only_missing_shards(tmp_path):
    out = tmp_path / "resume"
    collect(out, 4, seed=9, config=SMALL, progress=False)
    first = (out / "shard-00000.npz").stat().st_mtime_ns
    (out / "shard-00001.npz").unlink()
    result = collect(out, 4, seed=9, config=SMALL, progress=False)
    assert result.new_frames == 2 * (SimulationConfig().episode_steps + 1)
    assert (out / "shard-00000.npz").stat().st_mtime_ns == first
    Dataset(out).validate()
    with pytest.raises(DatasetError, match="another seed"):
        collect(out, 4, seed=10, config=SMALL, progress=False)


def test_resuming_with_another_renderer_says_so(tmp_path, caplog):
    out = tmp_path / "resume"
    collect(out, 4, seed=9, config=SMALL, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["renderer"] = "NVIDIA Corporation: NVIDIA H100 80GB HBM3/PCIe/SSE2; OpenGL 4.6.0"
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "shard-00001.npz").unlink()
    with caplog.at_level(logging.WARNING, logger="world_model_planner.core.data.collect"):
        collect(out, 4, seed=9, config=SMALL, progress=False)
    assert "NVIDIA H100" in caplog.text and "differ in their pixels" in caplog.text
    after = Dataset(out).manifest  # names both: the dataset's frames come from two renderers
    assert "NVIDIA" not in after["renderer"] and "NVIDIA H100" in after["earlier_renderers"][0]


def test_interrupted_collect_leaves_only_whole_shards(tmp_path):
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "world_model_planner.cli", "collect", "--episodes", "40",
           "--out", str(out), "--seed", "1", "--quiet"]
    # A shell without job control starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the child Ctrl-C as a terminal would.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
    report = Dataset(out).validate()
    assert 1 <= report["shards"] < 2 and report["episodes"] == 20


def test_collect_command_prints_one_json_object(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "world_model_planner.cli", "collect", "--episodes", "1",
         "--out", str(tmp_path / "cli"), "--seed", "2", "--image-size", "32", "--json"],
        capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout)
    assert summary["episodes"] == 1 and summary["frames"] == 61
    assert summary["frames_per_second"] > 0
    assert Dataset(tmp_path / "cli").image_shape == (32, 32)


def test_collect_command_rejects_bad_input_with_a_reason(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "world_model_planner.cli", "collect", "--episodes", "0",
         "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--episodes" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("exploration:\n  goal_gain: 3.0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "world_model_planner.cli", "collect", "--episodes", "1",
         "--out", str(tmp_path / "y"), "--config", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "exploration.goal_gain" in proc.stderr
    assert os.path.exists(tmp_path / "y") is False


def test_wide_randomisation_varies_the_scene_and_the_mild_default_adds_nothing_new():
    from world_model_planner.core import config as cfgmod
    from world_model_planner.core.data.collect import randomized_scene
    from world_model_planner.core.paths import share_path

    wide = cfgmod.load(CollectConfig, share_path("config/collect_wide.yaml")).randomization
    draws = [randomized_scene(wide, np.random.default_rng(i)) for i in range(200)]
    boxes = [p.distractor for _, p in draws if p.distractor.enabled]
    assert 70 <= len(boxes) <= 130, "about half the episodes should have a moving box"
    for box in boxes:
        assert np.all(np.asarray(box.centre) >= wide.distractor_low)
        assert np.all(np.asarray(box.centre) <= wide.distractor_high)
        assert wide.distractor_size[0] <= box.size <= wide.distractor_size[1]
    intensities = [look.light_intensity for look, _ in draws]
    assert min(intensities) < 0.5 and max(intensities) > 1.2
    assert len({look.floor_rgba for look, _ in draws}) == 200
    # The shipped model's data: mild looks, nominal floor and key light, never a box.
    mild = cfgmod.load(CollectConfig, share_path("config/collect.yaml")).randomization
    for look, pert in (randomized_scene(mild, np.random.default_rng(i)) for i in range(50)):
        assert 0.8 <= look.light_intensity <= 1.2 and not pert.distractor.enabled
        assert look.floor_rgba == (1.0, 1.0, 1.0, 1.0) and look.key_light_shift == (0, 0, 0)


def test_actuation_delay_makes_the_arm_arrive_late_and_leaves_delay_free_episodes_alone():
    import dataclasses

    from world_model_planner.core import config as cfgmod
    from world_model_planner.core.data.collect import EpisodeCollector

    sim = SimulationConfig()
    sim = dataclasses.replace(sim, reach=dataclasses.replace(sim.reach, episode_steps=8))
    plain = EpisodeCollector(sim, SMALL)
    late = EpisodeCollector(sim, dataclasses.replace(SMALL, actuation_delay=(0.03, 0.03)))
    try:
        a, b = plain.episode(11, 0), late.episode(11, 0)
        # Same scene and exploration; the first command is the same (same start, same policy
        # draw), but it acts 30 ms late, so the arm is still moving when the next frame comes.
        assert np.array_equal(a.commands[0], b.commands[0])
        assert np.array_equal(a.qpos[0], b.qpos[0])
        assert not np.allclose(a.qpos[1], b.qpos[1], atol=1e-4)
        assert np.abs(b.qvel[1:]).mean() > np.abs(a.qvel[1:]).mean()
        # The option off gives exactly the episodes collected before it existed.
        again = EpisodeCollector(sim, dataclasses.replace(SMALL, actuation_delay=(0.0, 0.0)))
        try:
            c = again.episode(11, 0)
        finally:
            again.close()
        assert np.array_equal(a.qpos, c.qpos) and np.array_equal(a.images, c.images)
    finally:
        plain.close()
        late.close()
    with pytest.raises(cfgmod.ConfigError, match="actuation_delay"):
        EpisodeCollector(sim, dataclasses.replace(SMALL, actuation_delay=(0.0, 0.2)))
