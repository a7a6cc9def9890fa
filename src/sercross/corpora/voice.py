"""The synthetic voice of the demo corpora: a source-filter model of emotional speech, in numpy alone.

A glottal-pulse train (with f0 contour, jitter and shimmer) plus aspiration noise, cut into syllables, filtered by
vowel formants, then passed through a recording channel with background noise. Emotions change prosody and voice
quality the way the acted-speech literature describes them, so IS10 functionals can learn them. The two corpora
differ like two real corpora do: other speakers, another vowel inventory ("language"), another microphone/channel
and noise floor, and weaker, offset emotion portrayal in ``demo_b``. That gives a genuine domain shift while
keeping the emotion cues shared.

An utterance is a pure function of its seed words (:func:`seed_words`): one generator per utterance, its draws
made in a fixed order (the steps of :func:`utterance` below, one after the other), no global random state.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class _Style:
    """How an emotion is voiced, relative to the speaker's neutral voice."""

    f0_st: float  # shift of mean f0, semitones
    range_st: float  # height of pitch accents, semitones
    jitter: float  # cycle-to-cycle relative sd of the period
    shimmer: float  # cycle-to-cycle relative sd of the amplitude
    level_db: float  # loudness
    rate: float  # syllables per second
    oq: float  # glottal open quotient: high = breathy/lax, low = pressed
    tilt_db: float  # extra spectral tilt above 500 Hz, dB per octave (negative = darker)
    breath: float  # aspiration noise relative to the pulse train
    rise_st: float  # f0 movement over the last syllables (questions, surprise)
    formant: float  # formant scale (smiling/tense articulation raises formants)


# Reference portrayal, on demo_a's scale. Directions follow the usual acoustic profiles of acted
# emotion (high arousal: high, wide f0, loud, fast, flat tilt; low arousal: the opposite).
_STYLES: dict[str, _Style] = {
    "neutral": _Style(0.0, 2.5, 0.006, 0.04, 0.0, 4.0, 0.60, 0.0, 0.06, -1.5, 1.00),
    "anger": _Style(4.0, 5.0, 0.010, 0.08, 9.0, 5.4, 0.40, 3.0, 0.03, -2.5, 1.04),
    "happiness": _Style(6.0, 7.5, 0.007, 0.05, 4.0, 4.6, 0.52, 1.5, 0.05, 1.0, 1.06),
    "sadness": _Style(-2.5, 1.0, 0.012, 0.07, -7.0, 2.7, 0.78, -3.5, 0.30, -2.5, 0.97),
    "fear": _Style(7.5, 3.5, 0.030, 0.10, 1.0, 5.8, 0.62, -1.0, 0.18, 0.5, 1.02),
    "boredom": _Style(-3.0, 0.5, 0.006, 0.04, -3.5, 3.0, 0.68, -2.0, 0.10, -1.0, 0.98),
    "surprise": _Style(4.5, 6.0, 0.008, 0.05, 3.0, 4.2, 0.55, 1.0, 0.06, 7.0, 1.03),
}


@dataclass(frozen=True)
class _Corpus:
    prefix: str
    f0_center: float  # Hz, geometric centre of the speakers' neutral f0
    vowels: tuple[tuple[float, float, float, float], ...]  # F1..F4, Hz, for an average speaker
    bandwidths: tuple[float, float, float, float]
    fricative_hz: float  # centre of the consonant noise bursts
    band: tuple[float, float]  # channel pass band, Hz
    band_order: int
    channel_tilt_db: float  # dB per octave above 1 kHz
    presence: tuple[float, float, float]  # channel resonance: Hz, gain dB, bandwidth Hz
    noise_db: float  # background noise, dBFS RMS
    strength: float  # how strongly emotions depart from neutral, relative to the reference
    offset: _Style  # added to every emotion after scaling (a corpus-wide speaking-style difference)
    # Per-emotion departures ("culture"/elicitation differences). Unlike the offsets above they change
    # how classes relate to each other, so per-corpus normalisation alone cannot undo them.
    accents: dict[str, dict[str, float]] = field(default_factory=dict)


CORPORA: dict[str, _Corpus] = {
    "demo_a": _Corpus(
        prefix="a",
        f0_center=150.0,
        vowels=(
            (730, 1090, 2440, 3400),
            (270, 2290, 3010, 3700),
            (300, 870, 2240, 3300),
            (530, 1840, 2480, 3500),
            (570, 840, 2410, 3400),
        ),
        bandwidths=(80, 100, 150, 220),
        fricative_hz=5000.0,
        band=(70.0, 7200.0),
        band_order=2,
        channel_tilt_db=0.0,
        presence=(3000.0, 0.0, 1000.0),
        noise_db=-60.0,
        strength=1.0,
        offset=_Style(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "demo_b": _Corpus(
        prefix="b",
        f0_center=175.0,
        vowels=(
            (820, 1350, 2650, 3650),
            (300, 1900, 2450, 3500),
            (620, 1950, 2700, 3650),
            (360, 1500, 2500, 3450),
            (620, 980, 2600, 3550),
        ),
        bandwidths=(100, 130, 190, 260),
        fricative_hz=3800.0,
        band=(220.0, 5200.0),
        band_order=3,
        channel_tilt_db=-1.5,
        presence=(2600.0, 5.0, 900.0),
        noise_db=-44.0,
        strength=0.7,
        offset=_Style(1.5, 0.8, 0.003, 0.01, 2.5, 0.7, -0.05, 1.0, 0.03, 0.0, 0.02),
        accents={
            "happiness": {"f0_st": -2.0, "range_st": 1.0, "rate": 0.3},  # melody more than pitch height
            "anger": {"level_db": -4.5, "tilt_db": 2.5, "rate": 0.4},  # colder, tenser rather than louder
            "fear": {"jitter": -0.006, "breath": 0.08},
            "sadness": {"breath": -0.12, "rate": 0.6, "level_db": 2.0, "f0_st": 1.0},
        },
    ),
}


def _corpus_style(corpus: _Corpus, emotion: str) -> _Style:
    ref, neutral = _STYLES[emotion], _STYLES["neutral"]
    values = {}
    for key, r in asdict(ref).items():
        n = getattr(neutral, key)
        values[key] = n + corpus.strength * (r - n) + getattr(corpus.offset, key)
        values[key] += corpus.accents.get(emotion, {}).get(key, 0.0)
    return _Style(**values)


def seed_words(*parts: str | int) -> list[int]:
    # crc32 rather than hash(): str hashes are salted per process, which would break determinism.
    return [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]


@dataclass(frozen=True)
class _Speaker:
    f0: float  # neutral mean f0, Hz
    tract: float  # formant scale (vocal-tract length)
    level_db: float
    rate: float  # tempo factor
    expressive: float  # how strongly this speaker portrays emotions
    oq: float  # offset of the open quotient (habitual voice quality)


def speaker(corpus: str, index: int, seed: int) -> _Speaker:
    rng = np.random.default_rng(np.random.SeedSequence(seed_words(seed, corpus, index, "speaker")))
    spec = CORPORA[corpus]
    # Alternate low and high registers so every corpus has a spread of voices, as real ones do.
    register = (-4.0, 4.0)[index % 2] + rng.uniform(-2.0, 2.0)
    f0 = spec.f0_center * 2.0 ** (register / 12.0)
    # Higher voices tend to come with shorter vocal tracts.
    tract = 1.0 + 0.012 * register + rng.uniform(-0.03, 0.03)
    return _Speaker(
        f0=f0,
        tract=tract,
        level_db=rng.uniform(-2.0, 2.0),
        rate=rng.uniform(0.9, 1.1),
        expressive=rng.uniform(0.8, 1.2),
        oq=rng.uniform(-0.04, 0.04),
    )


def _resonators(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int) -> np.ndarray:
    """Complex response of a cascade of two-pole resonators, unity gain at 0 Hz."""
    z1 = np.exp(-2j * np.pi * freqs / sr)
    h = np.ones_like(z1)
    for f, b in zip(formants, bandwidths):
        r = np.exp(-np.pi * b / sr)
        c = 2.0 * r * np.cos(2.0 * np.pi * f / sr)
        h *= (1.0 - c + r * r) / (1.0 - c * z1 + r * r * z1 * z1)
    return h


def _fft_size(n: int) -> int:
    # Odd sizes with large prime factors make pocketfft many times slower; powers of two are cheap.
    return 1 << (n - 1).bit_length()


def _tilt(freqs: np.ndarray, db_per_octave: float, knee: float) -> np.ndarray:
    return 10.0 ** (db_per_octave * np.log2(np.maximum(freqs, knee) / knee) / 20.0)



# ---------------------------------------------------------------------------------------------
# one utterance, step by step (each step takes its draws from ``rng`` in turn: their order is the output)


def utterance(corpus: str, speaker: _Speaker, emotion: str, words: list[int], sr: int) -> np.ndarray:
    """One utterance of ``emotion`` by ``speaker`` of ``corpus``: float samples in (-1, 1) at ``sr`` Hz."""
    spec = CORPORA[corpus]
    rng = np.random.default_rng(np.random.SeedSequence(words))
    s = _acted_style(spec, speaker, emotion)
    rate = max(s.rate, 1.5) * speaker.rate * rng.uniform(0.92, 1.08)
    # Slow emotions make longer utterances, within the 0.8-1.6 s the corpus promises.
    duration = float(np.clip(rng.uniform(4.2, 5.4) / rate + 0.2, 0.8, 1.6))
    n = int(round(duration * sr))
    syllables = _syllables(rng, rate, duration, len(spec.vowels))
    f0 = _f0_contour(rng, s, speaker, syllables, duration, n, sr)
    source = _glottal_source(rng, s, speaker, f0, n, sr)
    speech, env_total = _articulate(rng, spec, s, speaker, source, syllables, n, sr)
    return _record(rng, spec, s, speaker, speech, env_total, n, sr)


def _acted_style(spec: _Corpus, speaker: _Speaker, emotion: str) -> _Style:
    neutral = _corpus_style(spec, "neutral")
    style = _corpus_style(spec, emotion)
    # Speakers differ in how much they act: scale the departure from their own neutral voice.
    s = replace(
        style,
        **{k: getattr(neutral, k) + speaker.expressive * (v - getattr(neutral, k)) for k, v in asdict(style).items()},
    )
    # Corpus and speaker scaling can push a parameter past its physical range.
    return replace(s, jitter=max(s.jitter, 0.0), shimmer=max(s.shimmer, 0.0), breath=max(s.breath, 0.0))


def _syllables(rng: np.random.Generator, rate: float, duration: float, n_vowels: int) -> list[tuple]:
    """Syllable plan: (onset, voiced length, vowel, accent) of each syllable, in seconds."""
    syllables = []
    pos = rng.uniform(0.04, 0.1)
    while True:
        length = rng.uniform(0.75, 1.25) / rate
        voiced = length * rng.uniform(0.6, 0.8)
        if pos + voiced > duration - 0.04:
            break
        syllables.append((pos, voiced, int(rng.integers(n_vowels)), rng.uniform(0.2, 1.0)))
        pos += length
    if not syllables:  # an extreme tempo/duration draw; one syllable keeps the file speech-like
        syllables.append((0.05, duration - 0.12, 0, 1.0))
    return syllables


def _f0_contour(rng: np.random.Generator, s: _Style, speaker: _Speaker, syllables: list[tuple], duration: float,
                n: int, sr: int) -> np.ndarray:
    """f0 in Hz per sample: the speaker's neutral mean moved in semitones by the style, accents and declination."""
    t = np.arange(n) / sr
    st = np.full(n, s.f0_st + rng.uniform(-0.8, 0.8))
    st += -1.0 * t / duration  # declination
    for start, voiced, _, accent in syllables:
        centre, width = start + 0.5 * voiced, 0.35 * voiced
        st += s.range_st * accent * np.exp(-0.5 * ((t - centre) / width) ** 2)
    st += s.range_st * 0.25 * np.sin(2 * np.pi * rng.uniform(0.7, 1.5) * t + rng.uniform(0, 2 * np.pi))
    last = syllables[max(0, len(syllables) - 2)][0]
    st += s.rise_st * np.clip((t - last) / max(duration - last, 1e-3), 0.0, 1.0) ** 1.5
    return speaker.f0 * 2.0 ** (st / 12.0)


def _glottal_source(rng: np.random.Generator, s: _Style, speaker: _Speaker, f0: np.ndarray, n: int,
                    sr: int) -> np.ndarray:
    """The excitation: glottal pulses with jitter and shimmer, plus aspiration noise."""
    # Jitter and shimmer act per glottal cycle: draw one perturbation per cycle of the clean contour.
    cycle = np.floor(np.cumsum(f0) / sr).astype(int)
    n_cycles = int(cycle[-1]) + 1
    f0 = f0 * (1.0 + s.jitter * rng.standard_normal(n_cycles))[cycle]
    phase = np.cumsum(f0) / sr
    cycle = np.floor(phase).astype(int)
    frac = phase - cycle
    amp = np.maximum(1.0 + s.shimmer * rng.standard_normal(int(cycle[-1]) + 1), 0.2)[cycle]

    # Rosenberg-like glottal flow; its derivative is the radiated excitation.
    oq = float(np.clip(s.oq + speaker.oq, 0.3, 0.9))
    tp, tn = 0.65 * oq, 0.35 * oq
    flow = np.where(
        frac < tp,
        0.5 * (1.0 - np.cos(np.pi * frac / tp)),
        np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0),
    )
    pulses = np.diff(flow * amp, prepend=0.0) * (sr / speaker.f0) / 4.0
    aspiration = rng.standard_normal(n) * (0.3 + flow) * s.breath
    return pulses + aspiration


def _articulate(rng: np.random.Generator, spec: _Corpus, s: _Style, speaker: _Speaker, source: np.ndarray,
                syllables: list[tuple], n: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Speech: each syllable of the source through its vowel's formants, most after a consonant noise burst;
    and the summed syllable envelopes (where the speech is active)."""
    pad = 1024  # room for resonator ringing so the FFT filtering does not wrap around
    speech = np.zeros(n + pad)
    env_total = np.zeros(n)
    formants = np.asarray(spec.vowels, dtype=float) * speaker.tract * s.formant
    bandwidths = np.asarray(spec.bandwidths, dtype=float)
    for start, voiced, vowel, accent in syllables:
        a, m = int(start * sr), max(int(voiced * sr), 32)
        m = min(m, n - a)
        x = np.linspace(0.0, 1.0, m)
        env = np.minimum(np.minimum(x / 0.25, (1.0 - x) / 0.35), 1.0)
        env = np.sin(0.5 * np.pi * np.clip(env, 0.0, 1.0)) ** 2
        env *= 10.0 ** ((accent - 0.5) * min(s.range_st, 6.0) / 20.0)  # accented syllables are louder
        env_total[a : a + m] += env
        size = _fft_size(m + pad)
        freqs = np.fft.rfftfreq(size, 1.0 / sr)
        h = _resonators(freqs, formants[vowel], bandwidths, sr) * _tilt(freqs, s.tilt_db, 500.0)
        y = np.fft.irfft(np.fft.rfft(source[a : a + m] * env, size) * h, size)
        speech[a : a + m + pad] += y[: m + pad]
        if rng.random() < 0.6:  # consonant onset: a short noise burst before most vowels
            _add_burst(rng, spec, s, speaker, speech, a, pad, sr)
    return speech[:n], env_total


def _add_burst(rng: np.random.Generator, spec: _Corpus, s: _Style, speaker: _Speaker, speech: np.ndarray, a: int,
               pad: int, sr: int) -> None:
    c = int(rng.uniform(0.03, 0.06) * sr)
    b = max(a - c // 2, 0)
    burst = rng.standard_normal(c) * np.hanning(c) * 0.05 * max(1.0 + s.tilt_db / 10.0, 0.2)
    fsize = _fft_size(c + pad)
    ff = np.fft.rfftfreq(fsize, 1.0 / sr)
    hf = _resonators(ff, np.array([spec.fricative_hz * speaker.tract]), np.array([2500.0]), sr)
    y = np.fft.irfft(np.fft.rfft(burst, fsize) * hf * ff / 4000.0, fsize)
    speech[b : b + c + pad] += y[: c + pad]


def _record(rng: np.random.Generator, spec: _Corpus, s: _Style, speaker: _Speaker, speech: np.ndarray,
            env_total: np.ndarray, n: int, sr: int) -> np.ndarray:
    """The speech at its emotion's loudness, recorded: background noise, the corpus's channel, soft limiting."""
    # Loudness is set from the active (syllable) part so pauses do not dilute the emotion's level.
    active = env_total > 0.3
    rms = float(np.sqrt(np.mean(speech[active] ** 2))) if active.any() else 1.0
    level = -27.0 + s.level_db + speaker.level_db + rng.uniform(-1.5, 1.5)
    speech *= 10.0 ** (level / 20.0) / max(rms, 1e-9)

    # Recording: background noise, then the corpus's channel (microphone + band limits).
    signal = speech + rng.standard_normal(n) * 10.0 ** (spec.noise_db / 20.0)
    size = _fft_size(n)
    freqs = np.fft.rfftfreq(size, 1.0 / sr)
    lo, hi = spec.band
    k = 2 * spec.band_order
    channel = 1.0 / np.sqrt((1.0 + (lo / np.maximum(freqs, 1.0)) ** k) * (1.0 + (freqs / hi) ** k))
    channel *= _tilt(freqs, spec.channel_tilt_db, 1000.0)
    pf, pg, pb = spec.presence
    channel *= 1.0 + (10.0 ** (pg / 20.0) - 1.0) * np.exp(-0.5 * ((freqs - pf) / pb) ** 2)
    signal = np.fft.irfft(np.fft.rfft(signal, size) * channel, size)[:n]

    # Soft limiting instead of per-file normalisation: loudness is an emotion cue and must survive.
    return 0.98 * np.tanh(signal / 0.98)
