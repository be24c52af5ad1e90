"""A convolution as a projection's weights: `Convolution` keeps the kernel and the geometry, not
one index per synapse. Its delivery (projection kind "conv2d") computes each presynaptic spike's
targets from small tables made here. A spike at input column ix reaches, in each output row, a
run of output columns (one step apart, or `column_step` apart when dilated) through kernel
columns of one residue modulo the stride; the kernel is stored [in channel][kh][kernel column in
`column_order`][out channel of its group] (`by_input`), the columns of each residue in
descending order, so that the weights of a run are contiguous, as are its targets when the
outputs are numbered channels-last ((row, column, channel), `outputs_last`): the delivery's
inner loop then runs over (output column, channel) and vectorizes. Inputs numbered
channels-last (`inputs_last`) only reorder the per-input tables. Conv1d is a Conv2d of height 1."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from ..errors import InputError


# its geometry's fields: (name, how many whole numbers, the least each may be)
GEOMETRY = (("in_shape", 3, 1), ("stride", 2, 1), ("padding", 2, 0), ("dilation", 2, 1))


def _whole_numbers(value: object, size: int, least: int, what: str) -> tuple[int, ...]:
    """`size` whole numbers >= `least` (a float stride or a 2-D in_shape is refused); one
    number for a stride, padding or dilation stands for both axes, as in PyTorch."""
    if what != "in_shape" and isinstance(value, (int, np.integer)):
        value = (value,) * size
    try:
        items: tuple = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        items = ()
    if len(items) != size or isinstance(value, str) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
            and v >= least for v in items):
        raise InputError(f"Convolution: {what} is {size} whole number{'s' * (size > 1)} "
                         f">= {least}; got {value!r}")
    return tuple(int(v) for v in items)


@dataclass(frozen=True, eq=False)
class Convolution:
    """PyTorch's cross-correlation of (channels, height, width) inputs with `weight` (out
    channels, in channels / groups, kh, kw): zero padding, stride, dilation, groups; no bias
    (a post population's input bias holds it). Inputs and outputs are numbered in C order of
    (channel, row, column), or of (row, column, channel) where `inputs_last` / `outputs_last`
    (channels_last_order)."""

    weight: np.ndarray
    in_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    inputs_last: bool = False
    outputs_last: bool = False

    def __post_init__(self) -> None:
        for name, size, least in GEOMETRY:
            object.__setattr__(self, name, _whole_numbers(getattr(self, name), size, least, name))
        object.__setattr__(self, "groups", _whole_numbers((self.groups,), 1, 1, "groups")[0])
        for name in ("inputs_last", "outputs_last"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"Convolution: {name} is True or False, got "
                                 f"{getattr(self, name)!r}")
        weight = np.asarray(self.weight)
        if weight.dtype.kind not in "biuf":
            raise InputError(f"Convolution: weight holds real numbers; got {weight.dtype}")
        weight = np.array(weight, np.float64)
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
        tables = self.tables()
        rows = (tables["y"] >= 0).sum()  # (input row, kernel row) pairs inside
        out_per_group = self.weight.shape[0] // self.groups
        return int(self.in_shape[0] * out_per_group * rows * tables["x_n"].sum())

    @property
    def column_step(self) -> int:
        """How many output columns apart a run's targets lie (1 unless dilated)."""
        return self.dilation[1] // gcd(self.stride[1], self.dilation[1])

    def column_order(self) -> np.ndarray:
        """The kernel columns as `by_input` stores them: by residue modulo stride / gcd(stride,
        dilation) (the columns one input column reaches share it), descending within one."""
        period = self.stride[1] // gcd(self.stride[1], self.dilation[1])
        return np.array(sorted(range(self.weight.shape[3]), key=lambda kx: (kx % period, -kx)),
                        np.int64)

    def by_input(self) -> np.ndarray:
        """The kernel as the delivery reads it, flat: [in channel][kh][kernel column in
        column_order][out channel of the in channel's group]."""
        out_c, per_group, kh, kw = self.weight.shape
        grouped = self.weight.reshape(self.groups, out_c // self.groups, per_group, kh, kw)
        by_input = grouped.transpose(0, 2, 3, 4, 1)[:, :, :, self.column_order(), :]
        return np.ascontiguousarray(by_input).reshape(-1)

    def _column_runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per input column: its run's first output column, the position in column_order of the
        kernel column that reaches it, and the run's length (0: none)."""
        width, kw = self.in_shape[2], self.weight.shape[3]
        stride, pad, dil, out_w = (self.stride[1], self.padding[1], self.dilation[1],
                                   self.out_shape[2])
        position = np.argsort(self.column_order())
        first, at, length = (np.zeros(width, np.int32) for _ in range(3))
        for ix in range(width):
            reached = [kx for kx in range(kw) if (ix + pad - kx * dil) % stride == 0
                       and 0 <= (ix + pad - kx * dil) // stride < out_w]
            if reached:
                top = max(reached)
                first[ix], at[ix], length[ix] = (ix + pad - top * dil) // stride, position[top], \
                    len(reached)
                assert sorted(position[reached]) == list(range(at[ix], at[ix] + len(reached)))
        return first, at, length

    def tables(self) -> dict[str, np.ndarray]:
        """The delivery's tables (int32): pre_oc0 (the first output channel of each input
        neuron's group), pre_w (its channel's offset channel*kh*kw*out-per-group in
        `by_input`), pre_y (row*kh), pre_x (column); y[row*kh + ky] = output row*width or -1;
        per input column x_ox (its run's first output column), x_q (where the run's weights
        start in a kernel row of column_order) and x_n (the run's length); per_group [1] the
        output channels per group (read at run time: compilers vectorize a loop of unknown
        length, where they unroll one of 16 and leave it scalar)."""
        channels, height, width = self.in_shape
        out_c, per_group, kh, kw = self.weight.shape
        _, out_h, out_w = self.out_shape
        c, r, k = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width),
                              indexing="ij")
        group = c // per_group
        place, ky = np.meshgrid(np.arange(height), np.arange(kh), indexing="ij")
        num = place + self.padding[0] - ky * self.dilation[0]
        oy = num // self.stride[0]
        inside = (num >= 0) & (num % self.stride[0] == 0) & (oy < out_h)
        x_ox, x_q, x_n = self._column_runs()
        order = channels_last_order(self.in_shape) if self.inputs_last else slice(None)
        return {"pre_oc0": (group * (out_c // self.groups)).reshape(-1)[order].astype(np.int32),
                "pre_w": (c * kh * kw * (out_c // self.groups)).reshape(-1)[order]
                .astype(np.int32),
                "pre_y": (r * kh).reshape(-1)[order].astype(np.int32),
                "pre_x": k.reshape(-1)[order].astype(np.int32),
                "y": np.where(inside, oy * out_w, -1).reshape(-1).astype(np.int32),
                "x_ox": x_ox, "x_q": x_q, "x_n": x_n,
                "per_group": np.array([out_c // self.groups], np.int32)}

    def block_geometry(self) -> tuple[int, ...]:
        """The sizes of the block delivery (`blocks`), or () where it does not apply (dilated,
        grouped, or outputs numbered channels-first) or does not pay: stride 1 (every input
        away from the edges reaches whole kernel rows, whose loops predict well, and the
        plane's extra pass cost as much as the blocks saved on the NIR paper's CNN), or a
        stride past the kernel (an input reaches one output or none, and the taps would be up
        to stride^2 / kernel^2 times the kernel; at most 4 times it otherwise): (block rows, a
        block row's length, a padded row's length, output rows, an output row's length, the
        padded index of output (0, 0), the padded plane's size), lengths in elements (columns x
        channels)."""
        if self.dilation != (1, 1) or self.groups != 1 or not self.outputs_last \
                or self.stride == (1, 1) or any(
                    s > k for s, k in zip(self.stride, self.weight.shape[2:])):
            return ()
        (rows, columns), (height, width) = self._block_shape(), self._padded_shape()
        out_c, out_h, out_w = self.out_shape
        return (rows, columns * out_c, width * out_c, out_h, out_w * out_c,
                ((rows - 1) * width + columns - 1) * out_c, height * width * out_c)

    def _block_shape(self) -> tuple[int, int]:
        """How many output rows and columns one input reaches at most: ceil(kernel / stride)."""
        return tuple(-(-k // s) for k, s in zip(self.weight.shape[2:], self.stride))

    def _padded_shape(self) -> tuple[int, int]:
        """The padded plane's rows and columns: every block, (block - 1) rows and columns
        before output (0, 0) and as many as the last block needs after the outputs."""
        return tuple(max((n - 1 + p) // s, out - 1) + b for n, p, s, out, b in zip(  # type: ignore
            self.in_shape[1:], self.padding, self.stride, self.out_shape[1:],
            self._block_shape()))

    def blocks(self) -> dict[str, np.ndarray]:
        """The block delivery's tables: each input reaches a block of (block rows x block
        columns) outputs of a padded plane (the rows and columns past the outputs' edges catch
        what falls outside, as zero padding would), through the kernel taps of its row and
        column residues modulo the stride, zero where a block position has no tap. block_at:
        each input's block's first element in the padded plane; block_w: its taps' offset in
        block_weights, [in channel][row residue][column residue][block row][block column][out
        channel], the rows and columns of a block in ascending order of output; block_row: its
        block's first row in the padded plane (which rows a step touched). Fixed loop
        sizes, no edge tests: the same sums, each added in the same order of spikes (but for a
        spike whose count overflowed to infinity: times a zero tap it makes NaN, where the
        Sparse adds nothing)."""
        channels, height, width = self.in_shape
        out_c, _, kh, kw = self.weight.shape
        (rows, columns), (_, padded_w) = self._block_shape(), self._padded_shape()
        (sy, sx), (pad_y, pad_x) = self.stride, self.padding
        c, iy, ix = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width),
                                indexing="ij")
        top = (iy + pad_y) // sy
        at = (top * padded_w + (ix + pad_x) // sx) * out_c
        w = ((c * sy + (iy + pad_y) % sy) * sx + (ix + pad_x) % sx) * rows * columns * out_c
        taps = np.zeros((channels, sy, sx, rows, columns, out_c))
        for py, px, r, q in np.ndindex(sy, sx, rows, columns):
            ky, kx = py + (rows - 1 - r) * sy, px + (columns - 1 - q) * sx
            if ky < kh and kx < kw:
                taps[:, py, px, r, q, :] = self.weight[:, :, ky, kx].T
        order = channels_last_order(self.in_shape) if self.inputs_last else slice(None)
        return {"block_weights": taps.reshape(-1),
                "block_at": at.reshape(-1)[order].astype(np.int32),
                "block_w": w.reshape(-1)[order].astype(np.int32),
                "block_row": top.reshape(-1)[order].astype(np.int32)}

    def geometry(self) -> tuple[int, ...]:
        """What the delivery's loops are compiled for: (output channels per group, output
        channels, kh, kw, output rows x columns, column_step, 1 if outputs_last else 0)."""
        out_c, _, kh, kw = self.weight.shape
        _, out_h, out_w = self.out_shape
        return (out_c // self.groups, out_c, kh, kw, out_h * out_w, self.column_step,
                int(self.outputs_last))


def channels_last_order(shape: tuple[int, ...]) -> np.ndarray:
    """Neuron j of a (channels, *spatial) layer numbered channels-last ((*spatial, channel)) is
    neuron order[j] of its C-order numbering."""
    return np.arange(int(np.prod(shape))).reshape(shape).transpose(
        *range(1, len(shape)), 0).reshape(-1)


def after_pool(conv: Convolution, in_shape: tuple[int, int, int], window: tuple[int, int],
               scale: float) -> Convolution | None:
    """A pool of `window` (its stride the window, no padding; each input times `scale`: 1 for a
    sum, 1 / the window's size for an average) of `in_shape` inputs, then `conv`, as one
    Convolution of the pool's inputs: each weight repeated over a window, times `scale` (the
    product of the two maps, entry for entry). None where they do not compose so: the pool's
    input is no exact multiple of its output, or the convolution is dilated."""
    channels, height, width = in_shape
    if conv.dilation != (1, 1) or (channels, height, width) != (
            conv.in_shape[0], conv.in_shape[1] * window[0], conv.in_shape[2] * window[1]):
        return None
    weight = np.repeat(np.repeat(conv.weight, window[0], axis=2), window[1], axis=3) * scale
    return Convolution(weight, in_shape, (conv.stride[0] * window[0], conv.stride[1] * window[1]),
                       (conv.padding[0] * window[0], conv.padding[1] * window[1]), (1, 1),
                       conv.groups)
