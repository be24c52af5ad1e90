"""Sinabs's spike functions with their spikes in v's float type (Sinabs casts them to float32,
which float64 layers after them refuse): for the reference scripts run in Sinabs's environment.
The counts pass through Sinabs's float32 first, so a count above 2^24 is rounded there."""

from sinabs.activation import MultiSpike, SingleSpike


class SingleSpike64(SingleSpike):
    """Sinabs's SingleSpike (one spike a step), its spikes in v's float type."""

    @staticmethod
    def forward(ctx, v_mem, spike_threshold, surrogate_grad_fn):
        return SingleSpike.forward(ctx, v_mem, spike_threshold, surrogate_grad_fn).to(v_mem.dtype)


class MultiSpike64(MultiSpike):
    """Sinabs's MultiSpike (the import's default), its spike counts in v's float type."""

    @staticmethod
    def forward(ctx, v_mem, spike_threshold, surrogate_grad_fn):
        return MultiSpike.forward(ctx, v_mem, spike_threshold, surrogate_grad_fn).to(v_mem.dtype)
