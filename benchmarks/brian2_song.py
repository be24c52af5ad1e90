"""Song, Miller & Abbott (2000) in Brian2, as its examples/synapses/STDP.py builds it (v starts at
El, as lifgen's tests/models/song2000.toml does).

Usage: python brian2_song.py TARGET SECONDS; serves runs on request (brian2_timing.py).
"""

import shutil
import sys
import tempfile

from brian2_timing import runner, serve, setup


def stdp_synapses(b2, source, target, unit, zero, w_max, namespace):
    """Additive pair-based STDP as Brian2's examples/synapses/STDP.py writes it: w, traces Apre
    and Apost in `unit`, w clipped to [`zero`, `w_max`], each spike adding w to ge."""
    return b2.Synapses(source, target, f"""w : {unit}
                dApre/dt = -Apre / taupre : {unit} (event-driven)
                dApost/dt = -Apost / taupost : {unit} (event-driven)""",
                       on_pre=f"""ge += w
                    Apre += dApre
                    w = clip(w + Apost, {zero}, {w_max})""",
                       on_post=f"""Apost += dApost
                     w = clip(w + Apre, {zero}, {w_max})""", namespace=namespace)


def song_network(b2):
    """(inputs, neuron, synapses): Brian2's examples/synapses/STDP.py, v starting at El."""
    namespace = dict(taum=10 * b2.ms, taupre=20 * b2.ms, taupost=20 * b2.ms, taue=5 * b2.ms,
                     Ee=0 * b2.mV, vt=-54 * b2.mV, vr=-60 * b2.mV, El=-74 * b2.mV, gmax=0.01,
                     dApre=0.01 * 0.01, dApost=-0.01 * 1.05 * 0.01)
    inputs = b2.PoissonGroup(1000, rates=15 * b2.Hz)
    neuron = b2.NeuronGroup(1, """dv/dt = (ge * (Ee-v) + El - v) / taum : volt
                                  dge/dt = -ge / taue : 1""", threshold="v>vt",
                            reset="v = vr", method="euler", namespace=namespace)
    neuron.v = -74 * b2.mV
    synapses = stdp_synapses(b2, inputs, neuron, "1", "0", "gmax", namespace)
    synapses.connect()
    synapses.w = "rand() * gmax"
    return inputs, neuron, synapses


def main(target, seconds):
    import brian2 as b2

    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    b2.defaultclock.dt = 0.1 * b2.ms
    inputs, neuron, synapses = song_network(b2)
    monitor = b2.SpikeMonitor(neuron, record=False)
    network = b2.Network(inputs, neuron, synapses, monitor)
    run, build = runner(b2, network, target, directory, seconds * b2.second, 0.1 * b2.ms)
    serve(run, build, lambda: int(monitor.num_spikes))
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
