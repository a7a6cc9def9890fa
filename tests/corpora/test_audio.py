from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import soundfile as sf

from sercross.corpora.audio import TARGET_SR, VIDEO_SUFFIXES, AudioError, AudioInfo, audio_info, load_audio
from sercross.infra.errors import SercrossError

HAS_AV = importlib.util.find_spec("av") is not None
needs_av = pytest.mark.skipif(not HAS_AV, reason="PyAV (av) not installed: pip install 'sercross[video]'")


def sine(sr: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)])


def write(path, data, sr, subtype="PCM_16", **kw):
    sf.write(str(path), data, sr, subtype=subtype, **kw)
    return path


def assert_clean(x: np.ndarray) -> None:
    assert x.ndim == 1
    assert x.dtype == np.float32
    assert x.flags["C_CONTIGUOUS"]


def test_audio_error_is_a_sercross_error():
    # The CLI turns only SercrossError into a friendly message, so AudioError must be one.
    assert issubclass(AudioError, SercrossError)
    assert ".avi" in VIDEO_SUFFIXES and TARGET_SR == 16000


# --- decoding -------------------------------------------------------------------------------


def test_mono_pcm16_round_trip(tmp_path):
    ref = sine(16000, 0.5)
    x = load_audio(write(tmp_path / "a.wav", ref, 16000))
    assert_clean(x)
    assert len(x) == len(ref)
    # PCM16 quantisation step is 1/32768.
    np.testing.assert_allclose(x, ref, atol=1 / 32768 + 1e-6)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_resampled_to_16k_keeps_length_and_pitch(tmp_path, sr):
    seconds = 0.5
    ref = sine(sr, seconds)
    x = load_audio(write(tmp_path / f"s{sr}.wav", ref, sr))
    assert_clean(x)
    assert abs(len(x) - round(len(ref) * TARGET_SR / sr)) <= 1
    # FFT bin width is 2 Hz for 0.5 s.
    assert abs(peak_hz(x, TARGET_SR) - 440.0) <= 2.0


def test_custom_target_rate(tmp_path):
    x = load_audio(write(tmp_path / "a.wav", sine(16000, 0.5), 16000), target_sr=8000)
    assert abs(len(x) - 4000) <= 1
    assert abs(peak_hz(x, 8000) - 440.0) <= 2.0


def test_stereo_is_channel_mean(tmp_path):
    left, right = sine(16000, 0.3, 440), sine(16000, 0.3, 1000, amp=0.25)
    path = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    x = load_audio(path)
    assert_clean(x)
    np.testing.assert_allclose(x, (left + right) / 2, atol=1e-6)


def test_stereo_resampled_is_resampled_channel_mean(tmp_path):
    from scipy.signal import resample_poly

    left, right = sine(48000, 0.3, 440), sine(48000, 0.3, 1000, amp=0.25)
    path = write(tmp_path / "st48.wav", np.stack([left, right], axis=1), 48000, subtype="FLOAT")
    expected = resample_poly((left.astype(np.float64) + right) / 2, 1, 3)
    np.testing.assert_allclose(load_audio(path), expected, atol=1e-5)


def test_multichannel_is_mean(tmp_path):
    chans = np.stack([sine(16000, 0.2, f, amp=0.2) for f in (300, 500, 700, 900, 1100, 1300)], axis=1)
    x = load_audio(write(tmp_path / "six.wav", chans, 16000, subtype="FLOAT"))
    np.testing.assert_allclose(x, chans.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize(
    ("name", "fmt", "subtype", "atol"),
    [
        ("u8.wav", "WAV", "PCM_U8", 1 / 64),
        ("s24.wav", "WAV", "PCM_24", 1e-6),
        ("s32.wav", "WAV", "PCM_32", 1e-6),
        ("f32.wav", "WAV", "FLOAT", 1e-7),
        ("f64.wav", "WAV", "DOUBLE", 1e-7),
        ("a.flac", "FLAC", "PCM_16", 1 / 32768 + 1e-6),
        ("a.ogg", "OGG", "VORBIS", None),
    ],
)
def test_other_formats_load(tmp_path, name, fmt, subtype, atol):
    if not sf.check_format(fmt, subtype):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    ref = sine(16000, 0.5)
    x = load_audio(write(tmp_path / name, ref, 16000, subtype=subtype, format=fmt))
    assert_clean(x)
    if atol is None:  # lossy: only the pitch and rough length survive
        assert abs(len(x) - len(ref)) < 2048
        assert abs(peak_hz(x, TARGET_SR) - 440.0) <= 4.0
    else:
        assert len(x) == len(ref)
        np.testing.assert_allclose(x, ref, atol=atol)


def test_very_long_file(tmp_path):
    noise = (np.random.default_rng(0).standard_normal(61 * 16000) * 0.01).astype(np.float32)
    x = load_audio(write(tmp_path / "long.wav", noise, 16000))
    assert_clean(x)
    assert len(x) == 61 * 16000


def test_truncated_file_returns_what_decodes(tmp_path):
    path = write(tmp_path / "cut.wav", sine(16000, 1.0), 16000)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # header still claims 1 s
    x = load_audio(path)
    assert 0.4 * 16000 < len(x) < 0.6 * 16000


def test_accepts_str_path(tmp_path):
    assert len(load_audio(str(write(tmp_path / "a.wav", sine(16000, 0.2), 16000)))) == 3200


# --- errors ---------------------------------------------------------------------------------


def raises_naming(path, match: str | None = None, **kw) -> AudioError:
    with pytest.raises(AudioError) as info:
        load_audio(path, **kw)
    err = info.value
    assert str(err).startswith(str(path))
    assert path.name in str(err)
    if match is not None:
        assert match in err.message
    return err


def test_missing_file(tmp_path):
    raises_naming(tmp_path / "nope.wav", "does not exist")


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    raises_naming(path, "empty")


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    err = raises_naming(path, "cannot be decoded")
    assert "soundfile can read" in err.hint


def test_corrupt_header(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF" + np.random.default_rng(1).integers(0, 256, 400, dtype=np.uint8).tobytes())
    raises_naming(path)


def test_directory(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    raises_naming(tmp_path / "dir.wav", "directory")


def test_silent_file(tmp_path):
    raises_naming(write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000), "silent")


def test_stereo_channels_cancelling_is_silent(tmp_path):
    s = sine(16000, 0.3)
    path = write(tmp_path / "phase.wav", np.stack([s, -s], axis=1), 16000, subtype="FLOAT")
    raises_naming(path, "silent")


def test_too_short(tmp_path):
    err = raises_naming(write(tmp_path / "short.wav", sine(16000, 0.05), 16000), "too short")
    assert "0.05 s < 0.1 s" in err.message
    # The threshold is the caller's choice.
    assert len(load_audio(tmp_path / "short.wav", min_seconds=0.01)) == 800


def test_header_only_wav_has_no_samples(tmp_path):
    path = write(tmp_path / "nodata.wav", np.zeros(0, np.float32), 16000)
    raises_naming(path, "no audio samples")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(tmp_path, bad):
    data = sine(16000, 0.3)
    data[100] = bad
    raises_naming(write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT"), "NaN or infinite")


# --- audio_info ------------------------------------------------------------------------------


def test_audio_info_reads_header(tmp_path):
    path = write(tmp_path / "i.wav", np.zeros((22050, 2), np.float32) + 0.1, 44100)
    info = audio_info(path)
    assert info == AudioInfo(sample_rate=44100, channels=2, frames=22050, duration=0.5, format="WAV")
    with pytest.raises(AttributeError):
        info.frames = 1  # frozen


def test_audio_info_errors_like_load_audio(tmp_path):
    bad = tmp_path / "text.wav"
    bad.write_text("hello")
    for path in (tmp_path / "missing.flac", bad):
        with pytest.raises(AudioError, match=path.name):
            audio_info(path)


# --- video ----------------------------------------------------------------------------------


def make_video(
    path,
    *,
    audio: bool = True,
    video: bool = True,
    codec: str = "pcm_s16le",
    sr: int = 44100,
    channels: int = 2,
    seconds: float = 0.5,
) -> None:
    """A tiny clip written with PyAV; eNTERFACE-style .avi holds MPEG-4 video plus PCM or AAC audio."""
    import av

    with av.open(str(path), mode="w") as out:
        if video:
            vs = out.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        if audio:
            layout = "stereo" if channels == 2 else "mono"
            aus = out.add_stream(codec, rate=sr, layout=layout)
            sig = sine(sr, seconds)
            # One interleaved block of channels; the encoder's frame size decides the packets.
            fmt = "s16" if codec == "pcm_s16le" else "fltp"
            block = 1024
            for start in range(0, len(sig), block):
                part = sig[start : start + block]
                if fmt == "s16":
                    arr = np.repeat((part * 32767).astype(np.int16), channels)[None, :]
                else:
                    arr = np.tile(part, (channels, 1))
                frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout=layout)
                frame.sample_rate, frame.pts = sr, start
                for pkt in aus.encode(frame):
                    out.mux(pkt)
            for pkt in aus.encode(None):
                out.mux(pkt)
        if video:
            for i in range(int(seconds * 10)):
                img = np.full((32, 32, 3), i * 20, np.uint8)
                for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(pkt)
            for pkt in vs.encode(None):
                out.mux(pkt)


@needs_av
def test_video_avi_pcm(tmp_path):
    path = tmp_path / "clip.avi"
    make_video(path)
    x = load_audio(path)
    assert_clean(x)
    assert abs(len(x) / TARGET_SR - 0.5) < 0.02
    assert abs(peak_hz(x, TARGET_SR) - 440.0) <= 2.0
    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (44100, 2)
    assert abs(info.duration - 0.5) < 0.05


@needs_av
def test_video_mp4_aac(tmp_path):
    path = tmp_path / "clip.mp4"
    make_video(path, codec="aac", sr=48000, channels=1)
    x = load_audio(path)
    assert_clean(x)
    # AAC adds encoder priming / padding of a frame or two.
    assert abs(len(x) / TARGET_SR - 0.5) < 0.1
    assert abs(peak_hz(x, TARGET_SR) - 440.0) <= 4.0


@needs_av
def test_video_without_audio_stream(tmp_path):
    path = tmp_path / "mute.avi"
    make_video(path, audio=False)
    with pytest.raises(AudioError, match="no audio stream") as info:
        load_audio(path)
    assert path.name in str(info.value)


@needs_av
def test_garbage_video(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"definitely not an mp4 container" * 10)
    with pytest.raises(AudioError, match="junk.mp4"):
        load_audio(path)


def test_video_without_pyav_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "clip.avi"
    path.write_bytes(b"\0" * 64)  # never opened: the import fails first
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert "sercross[video]" in str(info.value)
    assert str(info.value).startswith(str(path))
