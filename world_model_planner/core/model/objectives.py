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
"""The two training objectives, on the same batches and the same networks.

Both train the dynamics over several imagined steps (so long rollouts stay on the data manifold),
the proprio head on encoded and imagined latents, and the encoder to give the same latent with a
modality missing (goal images have no joint state; a dropped camera leaves only joint state).
They differ in what shapes the latent:

* `jepa`: imagined latents regress onto an EMA target encoder's latents of the real future
  frames; VICReg variance and covariance terms keep the latent from collapsing. The decoder learns
  from detached latents, for visualisation only.
* `reconstruction`: the latent is shaped by decoding pixels, of encoded and of imagined states
  (deterministic Dreamer-style); latent targets come from the online encoder, detached.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from .batches import Batch
from .networks import IMAGE, PROPRIO, WorldModel


def modality_masks(count: int, image_dropout: float, proprio_dropout: float,
                   generator: torch.Generator) -> torch.Tensor:
    """(count, 2) masks: drop the image or the joint state, never both."""
    u = torch.rand(count, 2, generator=generator)
    mask = torch.ones(count, 2)
    drop_image = u[:, 0] < image_dropout
    mask[drop_image, IMAGE] = 0.0
    mask[~drop_image & (u[:, 1] < proprio_dropout), PROPRIO] = 0.0
    return mask


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each uint8 frame (N,H,W,3) by up to `pad` pixels (edge-replicated): DrQ-style
    augmentation that makes the encoder robust to small camera offsets."""
    if pad <= 0:
        return images
    n, h, w, _ = images.shape
    dev = images.device
    padded = torch.nn.functional.pad(images.permute(0, 3, 1, 2).float(), (pad,) * 4,
                                     mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])[:, :, None].expand(n, h, w)
    cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])[:, None, :].expand(n, h, w)
    idx = torch.arange(n, device=dev)[:, None, None].expand(n, h, w)
    out = padded.permute(0, 2, 3, 1)[idx, rows, cols]
    return out.to(torch.uint8)


def colour_jitter(images: torch.Tensor, strength: float, generator: torch.Generator
                  ) -> torch.Tensor:
    """Recolour each uint8 frame (N,H,W,3) at random: hue, brightness and channel gains.

    Lights dim and change colour, arms are painted differently; the frames of one training run
    show only the looks its episodes drew. A per-frame colour transform (a rotation of RGB space
    about the grey axis, then per-channel gains and a brightness scale) gives the encoder an
    endless supply of new looks of the same pose, so it learns to read the pose from shape."""
    if strength <= 0:
        return images
    n = images.shape[0]
    u = torch.rand(n, 5, generator=generator) * 2.0 - 1.0  # uniform in [-1, 1]
    angle = u[:, 0] * strength * 0.35 * 2.0 * math.pi
    axis = torch.full((3,), 1.0 / math.sqrt(3.0))
    cross = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                          [-axis[1], axis[0], 0.0]])
    outer = torch.outer(axis, axis)
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    rotation = c * torch.eye(3) + s * cross + (1.0 - c) * outer  # (N,3,3), Rodrigues
    gains = 1.0 + 0.4 * strength * u[:, 1:4]  # (N,3)
    # brightness: 1 at u=0, 1 - 0.6 s at u=-1, 1 + 0.3 s at u=1
    brightness = 1.0 + strength * torch.where(u[:, 4] < 0, 0.6 * u[:, 4], 0.3 * u[:, 4])
    matrix = rotation * (gains * brightness[:, None])[:, :, None]  # row i scaled by gain i
    matrix = matrix.to(images.device)  # drawn on the CPU generator: same looks on any device
    pixels = images.reshape(n, -1, 3).float()
    out = torch.bmm(pixels, matrix.transpose(1, 2)).reshape(images.shape)
    return out.clamp_(0.0, 255.0).round_().to(torch.uint8)


def augment(images: torch.Tensor, shift: int, jitter: float, generator: torch.Generator
            ) -> torch.Tensor:
    """What the online encoder sees in training: shifted, then recoloured frames."""
    return colour_jitter(random_shift(images, shift, generator), jitter, generator)


def vicreg(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance hinge (std of every dimension >= 1) and off-diagonal covariance penalty."""
    z = z - z.mean(dim=0)
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    variance = F.relu(1.0 - std).mean()
    cov = (z.T @ z) / max(z.shape[0] - 1, 1)
    off = cov - torch.diag(torch.diag(cov))
    return variance, (off ** 2).sum() / z.shape[1]


class _Encoded(NamedTuple):
    """One batch's frames flattened to (B*L, ...) and their online and target latents."""

    images: torch.Tensor  # (B*L, H, W, 3) uint8, as recorded
    mask: torch.Tensor  # (B*L, 2) the modalities the online encoder saw
    online: torch.Tensor  # (B*L, D)
    target: torch.Tensor  # (B*L, D), no gradient


def _encode(model: WorldModel, target_encoder: torch.nn.Module | None, batch: Batch,
            cfg: TrainConfig, generator: torch.Generator) -> _Encoded:
    """Online latents of augmented frames with modalities dropped (random draws: the masks,
    the full-observation starts, then the augmentation), and target latents of the frames."""
    o = cfg.optim
    b, length = batch.images.shape[:2]
    dev = batch.images.device  # random draws come from the CPU generator, then move here
    images = batch.images.reshape(b * length, *batch.images.shape[2:])
    joint_state = batch.joint_state.reshape(b * length, -1)
    full = torch.ones(b * length, 2, device=dev)

    mask = modality_masks(b * length, o.image_dropout, o.proprio_dropout, generator)
    mask.view(b, length, 2)[:, 0] = torch.where(  # rollouts start from the full observation
        torch.rand(b, 1, generator=generator) < 0.7, 1.0, mask.view(b, length, 2)[:, 0])
    mask = mask.to(dev)
    shift = o.image_shift if model.training else 0  # validation sees frames as they are
    jitter = o.colour_jitter if model.training else 0.0
    z_online = model.encoder(augment(images, shift, jitter, generator), joint_state, mask)
    with torch.no_grad():
        if cfg.objective == "jepa":
            assert target_encoder is not None
            z_target = target_encoder(images, joint_state, full)
        else:
            z_target = model.encoder(images, joint_state, full)
    return _Encoded(images, mask, z_online, z_target)


def _member_keep(members: int, b: int, keep_rate: float, generator: torch.Generator,
                 device: torch.device) -> torch.Tensor:
    """(K, B) weights, mean 1: which ensemble members train on which sequence."""
    keep = (torch.rand(members, b, generator=generator) < keep_rate).float()
    keep[:, keep.sum(0) == 0] = 1.0  # every sequence trains at least one member
    return (keep / keep.mean()).to(device)


def _pixel_terms(model: WorldModel, cfg: TrainConfig, enc: _Encoded, imagined: torch.Tensor,
                 b: int, length: int, generator: torch.Generator, parts: dict[str, torch.Tensor],
                 total: torch.Tensor) -> torch.Tensor:
    """The objective's own terms, added to `parts` and onto `total` (returned): VICReg and a
    decoder that only watches (jepa), or pixels of encoded and imagined states
    (reconstruction)."""
    w = cfg.loss
    horizon = length - 1
    k = imagined.shape[0]
    dev = enc.images.device
    z_online = enc.online
    target_pixels = enc.images.to(torch.float32) * (1.0 / 255.0)
    if cfg.objective == "jepa":
        variance, covariance = vicreg(z_online)
        parts.update(variance=variance, covariance=covariance)
        total = total + w.variance * variance + w.covariance * covariance
        # The decoder only learns to show latents; its gradient never reaches the encoder.
        first = torch.arange(b, device=dev) * length
        recon = F.mse_loss(model.decoder(z_online[first].detach()), target_pixels[first])
        parts["reconstruction"] = recon
        total = total + recon
    else:
        # Pixels of the rollout start and of every imagined step (one member per sequence).
        first = torch.arange(b, device=dev) * length
        member = torch.randint(0, k, (b,), generator=generator).to(dev)
        picked = imagined[member, torch.arange(b, device=dev)].reshape(b * horizon, -1)
        decoded = model.decoder(torch.cat([z_online[first], picked]))
        pixels = target_pixels.view(b, length, *target_pixels.shape[1:])
        wanted = torch.cat([pixels[:, 0], pixels[:, 1:].reshape(b * horizon,
                                                                *target_pixels.shape[1:])])
        parts["reconstruction"] = F.mse_loss(decoded, wanted)
        total = total + w.reconstruction * parts["reconstruction"]
        if w.latent_l2 > 0:
            parts["latent_l2"] = (z_online ** 2).mean()
            total = total + w.latent_l2 * parts["latent_l2"]
    return total


def world_model_loss(model: WorldModel, target_encoder: torch.nn.Module | None, batch: Batch,
                     cfg: TrainConfig, generator: torch.Generator
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (floats, for logging) on one batch of sequences.

    The generator's draws come in a fixed order (masks, augmentation, member keep, then the
    reconstruction objective's member pick), so a seed gives the same run."""
    w = cfg.loss
    b, length = batch.images.shape[:2]
    horizon = length - 1
    dev = batch.images.device
    enc = _encode(model, target_encoder, batch, cfg, generator)
    z_online, mask = enc.online, enc.mask
    z_online_seq = z_online.view(b, length, -1)
    z_target_seq = enc.target.view(b, length, -1)

    imagined = model.dynamics.rollout(z_online_seq[:, 0], batch.actions)  # (K,B,H,D)
    discount = w.discount ** torch.arange(horizon, dtype=torch.float32)
    discount = (discount / discount.sum()).to(dev)
    keep = _member_keep(imagined.shape[0], b, cfg.optim.member_keep, generator, dev)

    def over_time(err: torch.Tensor) -> torch.Tensor:  # err (K,B,H) -> scalar
        return ((err * discount).sum(-1) * keep).mean()

    latent = over_time(((imagined - z_target_seq[None, :, 1:]) ** 2).mean(-1))
    norm_js = model.proprio_head.normalizer(batch.joint_state)
    proprio_enc = F.mse_loss(model.proprio_head.normalized(z_online), norm_js.view(b * length, -1))
    proprio_img = over_time(((model.proprio_head.normalized(imagined) - norm_js[None, :, 1:]) ** 2
                             ).mean(-1))
    consistency = F.mse_loss(z_online, enc.target)
    parts = {"latent": latent, "proprio": proprio_enc + proprio_img, "consistency": consistency}
    total = w.latent * latent + w.proprio * parts["proprio"] + w.consistency * consistency
    if model.object_head is not None and batch.object_pose is not None and w.object > 0:
        seen = mask.view(b, length, 2)[:, :, IMAGE] > 0
        obj = object_terms(model, z_online.view(b, length, -1), imagined, batch.object_pose, seen,
                           over_time)
        parts["object"] = obj
        total = total + w.object * obj
    image_only = mask[:, PROPRIO] == 0
    if w.image_pose > 0 and bool(image_only.any()):
        j = model.joints
        pose = F.mse_loss(model.proprio_head.normalized(z_online[image_only])[:, :j],
                          norm_js.view(b * length, -1)[image_only][:, :j])
        parts["image_pose"] = pose
        total = total + w.image_pose * pose
    total = _pixel_terms(model, cfg, enc, imagined, b, length, generator, parts, total)
    names = [*parts, "total"]  # one device-to-host copy for all of them
    values = torch.stack([*(v.detach() for v in parts.values()), total.detach()]).tolist()
    return total, dict(zip(names, values))


def object_terms(model: WorldModel, encoded: torch.Tensor, imagined: torch.Tensor,
                 pose: torch.Tensor, seen: torch.Tensor, over_time) -> torch.Tensor:
    """Object head error on encodings that saw the image (B, L) and on the imagined states of
    rollouts that started from one: the object is only ever known from pixels, so a latent that
    never saw it cannot be asked where it is; imagined states must carry it along."""
    assert model.object_head is not None
    target = model.object_head.target(pose)  # (B, L, 4)
    enc = ((model.object_head.normalized(encoded) - target) ** 2).mean(-1)  # (B, L)
    weight = seen.float()
    encoded_term = (enc * weight).sum() / weight.sum().clamp(min=1.0)
    start = seen[:, 0].float()  # (B,)
    err = ((model.object_head.normalized(imagined) - target[None, :, 1:]) ** 2).mean(-1)
    imagined_term = over_time(err * start[None, :, None]) / start.mean().clamp(min=1e-3)
    return encoded_term + imagined_term


def pose_loss(model: WorldModel, images: torch.Tensor, joint_state: torch.Tensor,
              shift: int, generator: torch.Generator, jitter: float = 0.0,
              object_pose: torch.Tensor | None = None) -> torch.Tensor:
    """Stage 1: joint angles (and the object's pose, on push data) from the image alone (the
    path a goal image takes)."""
    j = model.joints
    mask = torch.zeros(len(images), 2, device=images.device)
    mask[:, IMAGE] = 1.0
    z = model.encoder(augment(images, shift, jitter, generator), torch.zeros_like(joint_state),
                      mask)
    target = model.proprio_head.normalizer(joint_state)[:, :j]
    loss = F.mse_loss(model.proprio_head.normalized(z)[:, :j], target)
    if model.object_head is not None and object_pose is not None:
        loss = loss + F.mse_loss(model.object_head.normalized(z),
                                 model.object_head.target(object_pose))
    return loss


@torch.no_grad()
def ema_update(target: torch.nn.Module, online: torch.nn.Module, rate: float) -> None:
    for t, s in zip(target.parameters(), online.parameters()):
        t.mul_(rate).add_(s.detach(), alpha=1.0 - rate)
    for t, s in zip(target.buffers(), online.buffers()):
        t.copy_(s)
