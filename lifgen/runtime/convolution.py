"""A convolution as a projection's weights: `Convolution` keeps the kernel and the geometry, not
one index per synapse. Its delivery (projection kind "conv2d") computes each presynaptic spike's
targets from small tables made here: per input neuron its channel's first output channel, its
kernel offset and its row and column, and per (row, kernel row) / (column, kernel column) the
output row offset or column (-1 where the kernel element falls outside the output or between
strides). Conv1d is a Conv2d of height 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True, eq=False)
class Convolution:
    """PyTorch's cross-correlation of (channels, height, width) inputs with `weight` (out
    channels, in channels / groups, kh, kw): zero padding, stride, dilation, groups; no bias
    (a post population's input bias holds it). Outputs in C order of (out channel, row,
    column), as the inputs."""

    weight: np.ndarray
    in_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        weight = np.array(self.weight, np.float64)
        if weight.ndim != 4 or not np.all(np.isfinite(weight)):
            raise InputError(f"Convolution: weight is a finite (out, in/groups, kh, kw) array; "
                             f"got shape {weight.shape}")
        weight.setflags(write=False)
        object.__setattr__(self, "weight", weight)
        out_c, per_group = weight.shape[:2]
        channels = self.in_shape[0]
        if self.groups < 1 or channels % self.groups or out_c % self.groups \
                or channels // self.groups != per_group:
            raise InputError(f"Convolution: {channels} input channels in {self.groups} groups "
                             f"do not fit a weight of shape {weight.shape}")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise InputError("Convolution: stride and dilation are >= 1, padding >= 0")
        if min(self.out_shape[1:]) < 1:
            raise InputError(f"Convolution: the kernel does not fit the input {self.in_shape}")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        kernel = self.weight.shape[2:]
        rows, columns = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(
            self.in_shape[1:], self.padding, self.dilation, kernel, self.stride))
        return (self.weight.shape[0], rows, columns)

    @property
    def n_pre(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_post(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def n_synapses(self) -> int:
        """The (output, input) pairs a kernel element joins (the Sparse it stands for)."""
        _, ys, xs = (self.tables()[k] for k in ("pre_oc0", "y", "x"))
        rows = (ys.reshape(self.in_shape[1], -1) >= 0).sum(1)  # per input row
        columns = (xs.reshape(self.in_shape[2], -1) >= 0).sum(1)
        out_per_group = self.weight.shape[0] // self.groups
        return int(self.in_shape[0] * out_per_group * rows.sum() * columns.sum())

    def tables(self) -> dict[str, np.ndarray]:
        """The delivery's tables (int32): pre_oc0 (the first output channel of each input
        neuron's group), pre_w (its offset icl*kh*kw in a row of weights), pre_y (row*kh), pre_x
        (column*kw); y[row*kh + ky] = output row*width or -1; x[column*kw + kx] = output
        column or -1."""
        channels, height, width = self.in_shape
        out_c, per_group, kh, kw = self.weight.shape
        _, out_h, out_w = self.out_shape
        c, r, k = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width),
                              indexing="ij")
        group = c // per_group

        def offsets(n: int, kernel: int, stride: int, pad: int, dil: int, out: int,
                    scale: int) -> np.ndarray:
            place, kk = np.meshgrid(np.arange(n), np.arange(kernel), indexing="ij")
            num = place + pad - kk * dil
            o = num // stride
            ok = (num >= 0) & (num % stride == 0) & (o < out)
            return np.where(ok, o * scale, -1).reshape(-1).astype(np.int32)

        return {"pre_oc0": (group * (out_c // self.groups)).reshape(-1).astype(np.int32),
                "pre_w": ((c % per_group) * kh * kw).reshape(-1).astype(np.int32),
                "pre_y": (r * kh).reshape(-1).astype(np.int32),
                "pre_x": (k * kw).reshape(-1).astype(np.int32),
                "y": offsets(height, kh, self.stride[0], self.padding[0], self.dilation[0],
                             out_h, out_w),
                "x": offsets(width, kw, self.stride[1], self.padding[1], self.dilation[1],
                             out_w, 1)}

    def geometry(self) -> tuple[int, ...]:
        """What the delivery's loops are compiled for: (output channels per group, weights per
        output channel, kh, kw, output rows x columns)."""
        out_c, per_group, kh, kw = self.weight.shape
        _, out_h, out_w = self.out_shape
        return (out_c // self.groups, per_group * kh * kw, kh, kw, out_h * out_w)
