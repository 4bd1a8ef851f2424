"""Brian2 model strings, one constant per cell type and synapse, each citing its source.

Rate-mode parameters are shared (scalar) variables of their group and the spiking ones are
resolved from the namespace passed to ``Network.run`` (``bio/golgi.py``, ``bio/spiking.py``),
so gain and thresholds change between runs without rebuilding the network: a shared variable
is also set on the command line of a compiled C++ standalone binary (``run_args``).
"""

# Rate mode: Eq. 13 of Bricken et al. 2023 (App. C.1, after Gozel & Gerstner 2021), read with
# inhibition that inhibits: p_a = e0 - lambda * W_IE i. The paper prints p_a = e0 + W_IE i with
# the sign hidden in W_IE; lambda in [-1, 1] is the GABA sign from the chloride switch
# (bio/chloride.py): lambda = -1 young (Golgi excites), +1 mature (Golgi inhibits).
# `drive` = e0 = address^T x is constant within a presentation and set per presentation.
# `ffi` is the feedforward Golgi inhibition (mossy fibers -> Golgi -> granule; Eccles et al. 1967,
# Kanichay & Silver 2008, J Neurosci 28:8955), also constant within a presentation: w_ff times the
# mean drive over granule cells (bio/circuit.py), subject to the same GABA sign lambda as the feedback.
# Brian2 reserves `e` and `i`, so both units' activity is called `act` (e for granule, i for Golgi).
GRANULE_RATE = """
dact/dt = (-act + tanh(clip((drive - lam * (inh + ffi) - b) / L, 0, inf))) / tau_a : 1
drive : 1
lam : 1
inh : 1
ffi : 1
b : 1 (shared)
L : 1 (shared)
tau_a : second (shared)
"""

# Eq. 13, inhibitory unit: di/dt = (-i + gain * [p_i - b_i]_+) / tau_i with p_i = W_EI e, the mean
# activity of the granule cells that reach this Golgi cell (W_EI s(e) with saturating granule -> Golgi synapses,
# granule_to_golgi_rate). `gain` and `b_i` are golgi_gain and
# golgi_threshold; the number of granule cells left active follows from them (never a parameter).
GOLGI_RATE = """
dact/dt = (-act + gain * clip(exc - b_i, 0, inf)) / tau_i : 1
exc : 1
gain : 1 (shared)
b_i : 1 (shared)
tau_i : second (shared)
"""

# Summed synapses of the rate loop: W_EI (granule -> Golgi) and W_IE (Golgi -> granule).
GRANULE_TO_GOLGI_RATE = "w : 1\nexc_post = w * act_pre : 1 (summed)"
GOLGI_TO_GRANULE_RATE = "w : 1\ninh_post = w * act_pre : 1 (summed)"


def granule_to_golgi_rate(depression: float) -> str:
    """W_EI through depressing synapses, s(e) = e (1 + rho) / (e + rho) (``bio.golgi.depressed``; Tsodyks &
    Markram 1997, PNAS 94:719); GRANULE_TO_GOLGI_RATE with ``depression`` rho = 0."""
    if depression == 0:
        return GRANULE_TO_GOLGI_RATE
    return f"w : 1\nexc_post = w * act_pre * {1.0 + depression!r} / (act_pre + {depression!r}) : 1 (summed)"

# Spiking granule cell: conductance-based LIF, parameters of Fore et al. 2020 (C 3.1 pF,
# g_L 0.2 nS, E_L -75 mV, E_e 0 mV, tau_e 12 ms, tau_i 20 ms, tonic GABA 1 nS). The GABA reversal
# E_gaba is per cell and comes from its chloride (bio/chloride.py): the current g_gaba (E_gaba - v)
# depolarises while E_gaba > v (young) and hyperpolarises once E_gaba < v (mature). g_tonic is the
# tonic GABA-A conductance (extrasynaptic alpha6/delta receptors; Brickley et al. 1996, J Physiol
# 497:753; Fore et al. 2020 use 1 nS), through the same chloride. The mossy conductance g_e decays
# with tau_mossy: tau_e (12 ms, AMPA) in Fore et al.; slower when it includes the NMDA component of
# the mossy fiber EPSC (bio/spiking.py, MOSSY_TAU_MS). `count` counts spikes in the read window
# (t >= t_read).
GRANULE_LIF = """
dv/dt = (g_L * (E_L - v) + g_e * (E_e - v) + (g_gaba + g_tonic) * (E_gaba - v)) / C_m : volt (unless refractory)
dg_e/dt = -g_e / tau_mossy : siemens
dgaba_time/dt = g_gaba + g_tonic : farad
E_gaba : volt
count : 1
"""
# gaba_time: the cell's GABA-A conductance integrated over the presentation (siemens x second, i.e. farad); over
# the presentation's duration it is the mean conductance whose chloride current loads or drains the cell
# (bio/chloride.py, Eq. 1's GABA term).
GRANULE_RESET = "v = V_reset\ncount += int(t >= t_read)"

# The granule GABA conductance, one of two: from LIF Golgi cells, a quantum per Golgi spike
# decaying with tau_gaba (GOLGI_TO_GRANULE_SPIKE) ...
GRANULE_GABA_LIF = "dg_gaba/dt = -g_gaba / tau_gaba : siemens"
# ... or from a population-rate Golgi (Eq. 13's inhibitory unit, GOLGI_RATE, in spiking mode): the
# mean-field limit of many asynchronous Golgi cells. g_gaba = q_golgi * W_IE i follows the Golgi
# rate without spike quanta. The Golgi cells see each granule cell's spike train low-pass
# filtered into `act` (a jump of t_ref / tau_trace per spike, decay tau_trace): its firing rate
# times the refractory period, the unit of the spiking read-out and of Eq. 13's e.
GRANULE_GABA_POPULATION = """
g_gaba = q_golgi * inh : siemens
inh : 1
dact/dt = -act / tau_trace : 1
"""
GRANULE_RESET_POPULATION = GRANULE_RESET + "\nact += t_ref / tau_trace"

# Spiking Golgi cell: conductance-based LIF, Fore et al. 2020 (C 60 pF, g_L 3 nS, E_L -51 mV,
# threshold -50 mV, reset -55 mV, refractory 10 ms). golgi_threshold raises the firing
# threshold (b_i of Eq. 13 as a voltage: V_th_golgi + golgi_threshold * threshold_scale).
# Each cell's threshold is offset by `dth` (heterogeneous Golgi cells, bio/wiring.py), and it may be
# inhibited by other Golgi cells (g_i, reversal E_gaba_golgi; Hull & Regehr 2012, Neuron 73:149),
# the conductance decaying with tau_gaba_golgi.
GOLGI_LIF = """
dv/dt = (g_Lg * (E_Lg - v) + g_e * (E_e - v) + g_i * (E_gaba_golgi - v)) / C_g : volt (unless refractory)
dg_e/dt = -g_e / tau_e : siemens
dg_i/dt = -g_i / tau_gaba_golgi : siemens
dth : volt
"""
# ... with independent membrane noise per Golgi cell: an Ornstein-Uhlenbeck fluctuation of sd sigma_golgi around
# the deterministic trajectory of the resting membrane (time constant C_g / g_Lg), standing in for the background
# synaptic and channel noise behind the irregular firing of Golgi cells in vivo (Vos et al. 1999, Eur J Neurosci
# 11:2621; Holtzman et al. 2006, J Physiol 574:491). Integrated by Euler-Maruyama.
GOLGI_LIF_NOISE = GOLGI_LIF.replace(
    "g_i * (E_gaba_golgi - v)) / C_g : volt",
    "g_i * (E_gaba_golgi - v)) / C_g + sigma_golgi * sqrt(2 * g_Lg / C_g) * xi : volt")

# Electrical coupling of Golgi cells (gap junctions, connexin 36: Dugue et al. 2009, Neuron 61:126), each pair of
# Golgi cells of a circuit coupled by g_gap; with sparse excitation it desynchronises the network (Vervaeke et al.
# 2010, Neuron 67:435). The coupling current enters the Golgi membrane equation as I_gap (golgi_with_gap).
GOLGI_GAP = "I_gap_post = g_gap * (v_pre - v_post) : amp (summed)"


def golgi_with_gap(eqs: str) -> str:
    """A Golgi membrane equation (GOLGI_LIF or GOLGI_LIF_NOISE) with the gap-junction current I_gap added."""
    coupled = eqs.replace("g_i * (E_gaba_golgi - v)) / C_g", "g_i * (E_gaba_golgi - v) + I_gap) / C_g", 1)
    return coupled + "I_gap : amp\n"


# Regular mossy fibers (the alternative to Poisson trains): each fiber is a phase oscillator that
# fires whenever its phase crosses 1, i.e. a perfectly regular train at `rates`. Vestibular
# primary afferents, a main mossy fiber source, include highly regular fibers (Goldberg &
# Fernandez 1971, J Neurophysiol 34:635). The initial phase is drawn per presentation.
MOSSY_REGULAR = """
dphase/dt = rates : 1
rates : Hz
"""

# Spiking synapses: each presynaptic spike adds a conductance quantum scaled by the weight.
MOSSY_TO_GRANULE_SPIKE = ("w : 1", "g_e_post += w * q_mossy")
GRANULE_TO_GOLGI_SPIKE = ("w : 1", "g_e_post += w * q_granule")
# ... or through a depressing synapse (Tsodyks & Markram 1997, PNAS 94:719): each spike releases a fraction U_rel
# of the synapse's resources x_rel, which recover with tau_rec; the quantum is scaled by q_depressed, so that at
# steady state a Poisson train passes on average rate mode's s(e) (bio.golgi.depressed;
# bio.spiking.depression_namespace).
GRANULE_TO_GOLGI_DEPRESSING = ("w : 1\ndx_rel/dt = (1 - x_rel) / tau_rec : 1 (event-driven)",
                               "g_e_post += w * q_granule * q_depressed * x_rel\nx_rel -= U_rel * x_rel")
GOLGI_TO_GRANULE_SPIKE = ("w : 1", "g_gaba_post += w * gain * q_golgi")
# Feedforward excitation of Golgi cells by mossy fibers (Kanichay & Silver 2008, J Neurosci 28:8955)
# and inhibition between Golgi cells (Hull & Regehr 2012), each a quantum per presynaptic spike.
MOSSY_TO_GOLGI_SPIKE = ("w : 1", "g_e_post += w * q_mossy_golgi")
GOLGI_TO_GOLGI_SPIKE = ("w : 1", "g_i_post += w * q_golgi_golgi")
