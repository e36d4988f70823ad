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
"""Networks of the latent world model.

Encoder: a small CNN on the camera frame and an MLP on the joint state, fused into a latent z;
either modality can be switched off with a mask, so one network encodes full observations, goal
images (no joint state) and joint state alone (camera out). Dynamics: an ensemble of residual MLPs,
z' = z + f_k(z, a), evaluated for all members in one batched matmul per layer, so the planner's
rollout of N samples x H steps x K members is a handful of large matrix products. Heads: joint
state from z (for end-effector goals through forward kinematics) and an image decoder (for
reconstruction training and for showing what the model imagines).

Inputs are raw (uint8 RGB, radians, rad/s); normalisation lives inside the networks as buffers, so
the exported ONNX files take exactly what the ROS nodes receive.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import ModelConfig

IMAGE, PROPRIO = 0, 1  # columns of the modality mask


def _mlp(sizes: list[int], act: type[nn.Module] = nn.SiLU, last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


class Normalizer(nn.Module):
    """Fixed affine normalisation of joint state, learned from the training data's statistics."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))

    def set(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(torch.clamp(std, min=1e-3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


class ResidualConv(nn.Module):
    """x + SiLU(GN(conv3x3(x))): depth for the image path without another downsampling."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.norm(self.conv(x)))


class Encoder(nn.Module):
    """(image uint8 (B,H,W,3), joint_state (B,2J), modality (B,2)) -> latent (B,D)."""

    def __init__(self, cfg: ModelConfig, image_hw: tuple[int, int], joints: int) -> None:
        super().__init__()
        c = cfg.cnn_channels
        convs: list[nn.Module] = []
        cin = 3
        for cout in c:  # GroupNorm: roughly twice as fast to learn joint angles from pixels
            convs += [nn.Conv2d(cin, cout, 4, stride=2, padding=1),
                      nn.GroupNorm(min(8, cout), cout), nn.SiLU()]
            convs += [ResidualConv(cout) for _ in range(cfg.cnn_blocks)]
            cin = cout
        self.cnn = nn.Sequential(*convs)
        h, w = image_hw
        flat = c[-1] * math.ceil(h / 16) * math.ceil(w / 16)
        self.image_fc = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.image_features),
                                      nn.LayerNorm(cfg.image_features), nn.SiLU())
        self.proprio_norm = Normalizer(2 * joints)
        self.proprio_fc = _mlp([2 * joints, cfg.proprio_features, cfg.proprio_features],
                               last_act=True)
        self.fuse = _mlp([cfg.image_features + cfg.proprio_features + 2, cfg.encoder_hidden,
                          cfg.encoder_hidden, cfg.latent_dim])

    def forward(self, image: torch.Tensor, joint_state: torch.Tensor,
                modality: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).to(torch.float32) * (1.0 / 255.0) - 0.5
        h_img = self.image_fc(self.cnn(x)) * modality[:, IMAGE:IMAGE + 1]
        h_prop = self.proprio_fc(self.proprio_norm(joint_state)) * modality[:, PROPRIO:PROPRIO + 1]
        return self.fuse(torch.cat([h_img, h_prop, modality], dim=-1))


class EnsembleLinear(nn.Module):
    """K independent linear layers applied as one batched matmul: (K,B,in) -> (K,B,out)."""

    def __init__(self, members: int, fan_in: int, fan_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight) + self.bias


class EnsembleDynamics(nn.Module):
    """K residual MLPs z' = z + f_k(z, a / bound); actions are joint deltas in radians."""

    def __init__(self, cfg: ModelConfig, actions: int) -> None:
        super().__init__()
        k, d, hdim = cfg.ensemble_size, cfg.latent_dim, cfg.dynamics_hidden
        sizes = [d + actions] + [hdim] * cfg.dynamics_layers + [d]
        self.layers = nn.ModuleList(EnsembleLinear(k, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        with torch.no_grad():  # start near the identity map: small residuals
            self.layers[-1].weight.mul_(0.1)
            self.layers[-1].bias.zero_()
        self.register_buffer("action_scale", torch.ones(actions))
        self.members = k

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """z (K,B,D), a (K,B,A) or (B,A) -> next z (K,B,D)."""
        a = a * (1.0 / self.action_scale)
        if a.dim() == 2:
            a = a.unsqueeze(0).expand(z.shape[0], -1, -1)
        h = torch.cat([z, a], dim=-1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return z + h

    def rollout(self, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """z0 (B,D), actions (B,H,A) -> imagined latents (K,B,H,D), member k rolling its own."""
        z = z0.unsqueeze(0).expand(self.members, -1, -1)
        out = []
        for t in range(actions.shape[1]):
            z = self.step(z, actions[:, t])
            out.append(z)
        return torch.stack(out, dim=2)


class ProprioHead(nn.Module):
    """latent (...,D) -> joint state (...,2J) in rad and rad/s."""

    def __init__(self, cfg: ModelConfig, joints: int) -> None:
        super().__init__()
        self.net = _mlp([cfg.latent_dim, cfg.head_hidden, cfg.head_hidden, 2 * joints])
        self.normalizer = Normalizer(2 * joints)
        self.joints = joints

    def normalized(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.normalizer.inverse(self.net(z))


class ObjectHead(nn.Module):
    """latent (...,D) -> object pose features (..., 4): x, y (m), cos and sin of k * yaw.

    k is the object's symmetry (a square block looks the same every quarter turn), so the
    features are continuous where the pose is ambiguous; :func:`object_pose` turns them back."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.net = _mlp([cfg.latent_dim, cfg.head_hidden, cfg.head_hidden, 4])
        self.normalizer = Normalizer(2)
        self.symmetry = cfg.object_symmetry

    def normalized(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return torch.cat([self.normalizer.inverse(out[..., :2]), out[..., 2:]], dim=-1)

    def target(self, pose: torch.Tensor) -> torch.Tensor:
        """What `normalized` should give for poses (..., 3) x, y, yaw."""
        angle = pose[..., 2:3] * self.symmetry
        return torch.cat([self.normalizer(pose[..., :2]), torch.cos(angle), torch.sin(angle)],
                         dim=-1)


def object_pose(features: torch.Tensor, symmetry: int) -> torch.Tensor:
    """(..., 4) object features -> (..., 3) x, y, yaw (yaw modulo 2 pi / symmetry)."""
    yaw = torch.atan2(features[..., 3], features[..., 2]) / symmetry
    return torch.stack([features[..., 0], features[..., 1], yaw], dim=-1)


class Decoder(nn.Module):
    """latent (B,D) -> image (B,H,W,3) in [0,1].

    Each stage is a 3x3 convolution to 4x the channels followed by a pixel shuffle (sub-pixel
    upsampling): twice as fast as transposed convolutions on CPU for the same receptive field, and
    exported as ONNX DepthToSpace.
    """

    def __init__(self, cfg: ModelConfig, image_hw: tuple[int, int]) -> None:
        super().__init__()
        c = list(cfg.cnn_channels)[::-1]
        self.h0, self.w0 = math.ceil(image_hw[0] / 16), math.ceil(image_hw[1] / 16)
        self.image_hw = image_hw
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim, c[0] * self.h0 * self.w0), nn.SiLU())
        layers: list[nn.Module] = []
        for cin, cout in zip(c, c[1:] + [3]):
            layers += [nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2)]
            if cout != 3:
                layers.append(nn.SiLU())
        self.up = nn.Sequential(*layers)
        self.channels = c[0]

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(-1, self.channels, self.h0, self.w0)
        return self.up(x)[:, :, : self.image_hw[0], : self.image_hw[1]]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z)).permute(0, 2, 3, 1)


class WorldModel(nn.Module):
    """Encoder, dynamics ensemble and heads, sized for one robot and camera."""

    def __init__(self, cfg: ModelConfig, image_hw: tuple[int, int], joints: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_hw = tuple(image_hw)
        self.joints = joints
        self.encoder = Encoder(cfg, image_hw, joints)
        self.dynamics = EnsembleDynamics(cfg, joints)
        self.proprio_head = ProprioHead(cfg, joints)
        self.decoder = Decoder(cfg, image_hw)
        self.object_head = ObjectHead(cfg) if cfg.object_head else None

    def set_statistics(self, proprio_mean: torch.Tensor, proprio_std: torch.Tensor,
                       action_bound: torch.Tensor,
                       object_xy: torch.Tensor | None = None) -> None:
        """Normalisation from the training data; `object_xy` (N, 2): the object's positions."""
        self.encoder.proprio_norm.set(proprio_mean, proprio_std)
        self.proprio_head.normalizer.set(proprio_mean, proprio_std)
        self.dynamics.action_scale.copy_(action_bound)
        if self.object_head is not None:
            if object_xy is None:
                raise ValueError("model.object_head needs push data (episodes with object "
                                 "poses); collect with 'wmp collect --task push'")
            self.object_head.normalizer.set(object_xy.mean(0), object_xy.std(0))
