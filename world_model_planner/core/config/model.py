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
"""The world model's schema (config/train.yaml) and the part-retraining commands' settings."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .schema import param


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
    object_head: bool = param(False, "a head from the latent to the pushed object's pose (push "
                              "data): trains the latent to hold the object, and gives the "
                              "planner an object term")
    object_symmetry: int = param(1, "turns of 360/n degrees that leave the object unchanged (4: "
                                 "square block, 1: tee); its yaw is learned modulo them",
                                 ge=1, le=8)


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
    object: float = param(1.0, "object pose head on encoded (with an image) and imagined "
                          "latents (push data only)", ge=0.0)
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
