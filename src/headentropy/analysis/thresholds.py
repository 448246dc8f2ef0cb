"""Every threshold the analysis uses, named, with how it was calibrated.

Calibration runs (numbers in VALIDATION.md, script `validation/validate_diagnosis.py`):
healthy = the embedded SmolLM2-135M-Instruct (chat prompts, 32-48 generated tokens) and MiniLM-L6
(sentences); induced = the same SmolLM2 with every query projection scaled ×30 (rows one-hot),
scaled ×0 (rows uniform), and a generation forced to repeat one token (locking). Thresholds sit
between the healthy and induced values with a margin on both sides; the margins are listed in
VALIDATION.md so a later change can see how close a model came.
"""

# Positions whose query sees fewer keys than this are left out of per-position statistics:
# with 2-7 keys the normalised entropy H/log n jumps by large steps and says little.
MIN_KEYS = 8
# Analyses (profile shape, per-head statistics, every detector) need at least this many
# positions that see >= MIN_KEYS keys in every layer; below it they report "n/a" and no detector
# fires. Eight positions of one text already carry more than one sample per head, which a
# single position (a 8-token prompt) does not.
MIN_POSITIONS = 8

# --- layer profile -----------------------------------------------------------------------
# Range (max - min) of the per-layer mean normalised entropy below which the profile is "flat".
# Measured: healthy SmolLM2 0.65-0.68; MiniLM 0.31; a randomly initialised tiny Llama 0.0001.
FLAT_PROFILE_RANGE = 0.10
# An arm of the profile (first layer to minimum, minimum to last layer) counts when it spans at
# least this fraction of the range: smaller wiggles are noise between neighbouring layers.
PROFILE_ARM_FRACTION = 0.25
# "u_shape" needs the minimum in the middle half of the depth and the shorter arm at least this
# fraction of the longer one; otherwise a profile with two arms is "descent_ascent".
U_SHAPE_ARM_RATIO = 0.5

# --- heads -----------------------------------------------------------------------------
# Two heads of one layer are a redundant pair when their per-token normalised entropy series
# correlate at least this much (Pearson, over valid positions with >= MIN_KEYS keys).
REDUNDANT_CORRELATION = 0.95
# A layer whose inter-head variance of mean normalised entropy is below this has heads that all
# behave alike (mode collapse / redundancy). Lowest layer measured: healthy SmolLM2
# 0.0013-0.0027, MiniLM 0.0039; queries ×30 / ×0 (every head identical): 0.0000.
LOW_HEAD_VARIANCE = 5e-4
# head_redundancy is reported when at least this many layers are low-variance.
REDUNDANT_LAYERS_MIN = 1

# --- anomalies ---------------------------------------------------------------------------
# entropy_collapse: a head is collapsed when its mean normalised entropy is below
# COLLAPSE_HEAD_ENTROPY; the model is when at least COLLAPSE_HEAD_FRACTION of its heads are.
# Measured: healthy SmolLM2 3.7-5.9 % of heads below 0.1, MiniLM 1.4 %; queries ×30: 100 %.
COLLAPSE_HEAD_ENTROPY = 0.10
COLLAPSE_HEAD_FRACTION = 0.50
# entropic_overload: a head is overloaded when its mean normalised entropy is above
# OVERLOAD_HEAD_ENTROPY; the model is when at least OVERLOAD_HEAD_FRACTION of its heads are.
# Measured: healthy SmolLM2 0.4 % of heads above 0.9, MiniLM 0 %; queries ×0 and a randomly
# initialised tiny Llama: 100 %.
OVERLOAD_HEAD_ENTROPY = 0.90
OVERLOAD_HEAD_FRACTION = 0.50
# attention_locking: over at least LOCKING_MIN_STEPS generated tokens, the per-step entropy of
# the heads barely moves. Statistic: median over (layer, head) of the mean |H_t - H_{t-1}| between
# consecutive generated steps, divided by the same head's mean step between consecutive prompt
# positions. Measured on SmolLM2: ordinary greedy/sampled generation 0.92-1.09; a generation
# forced to repeat one token 0.07-0.11 (48-128 steps). Locked below LOCKING_STEP_RATIO.
LOCKING_MIN_STEPS = 16
LOCKING_STEP_RATIO = 0.30

# --- tokens ------------------------------------------------------------------------------
# entropy_spike: a generated position whose mean normalised entropy (over layers and heads) is
# at least SPIKE_Z standard deviations above the prompt positions' mean.
SPIKE_Z = 3.0
# Spikes need a baseline: at least this many prompt positions with >= MIN_KEYS keys.
SPIKE_MIN_BASELINE = 8

# --- training (he.TrainingMonitor / he.EntropyCallback) ----------------------------------------
# Each sampled training step is judged on its own per-head means (same positions as above: valid,
# >= MIN_KEYS keys) with COLLAPSE_HEAD_ENTROPY / COLLAPSE_HEAD_FRACTION and OVERLOAD_HEAD_ENTROPY /
# OVERLOAD_HEAD_FRACTION, plus the run's own history:
#
# entropy_collapse also fires when one layer falls fast against the run's own early baseline (its
# mean at the first sampled step): below TRAIN_FALL_RATIO × baseline. Set from what a healthy run
# can do: a Llama-style model at the usual initialisation (initializer_range 0.02) starts at 0.9999
# in every layer (measured, tiny Llama), and a model trained to the end keeps its lowest layer at
# about 0.25 (SmolLM2, layer 24): a ratio of about 0.25, which 0.20 stays below. A layer whose
# heads go one-hot falls far under it (measured, tiny Llama of the tests: layer 1 with q/k ×30
# goes from 0.537 to 0.00003). Provisional: issue 13 item 5 (from-scratch validation runs,
# 3 seeds) is to recalibrate it on real training curves.
TRAIN_FALL_RATIO = 0.20
# entropic_overload needs the overload condition on this many consecutive sampled steps while the
# model mean does not fall by more than TRAIN_OVERLOAD_MIN_FALL between the first and the last of
# them: a model that starts near uniform (a from-scratch init) and is learning moves away from it
# within a few samples; one that stays uniform has attention that is not being trained. The
# count and the fall are a judgement, not yet calibrated on training runs: at the default
# every_n_steps=50 they mean 200 steps of uniform, unmoving attention (a from-scratch model starts
# at 0.9999, so a long warm-up at a tiny learning rate can trip it; item 5 is to measure that).
TRAIN_OVERLOAD_SAMPLES = 5
TRAIN_OVERLOAD_MIN_FALL = 0.02
