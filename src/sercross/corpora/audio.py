"""Decode audio (and the sound track of video clips) into 1-D float32 mono signals at 16 kHz.

Everything downstream (openSMILE features, caching) assumes one canonical signal shape, so all
format differences are absorbed here: bit depth, channel count, sample rate and container.
Anything wrong with a file becomes an :class:`AudioError` that names the file, so that one bad
clip in a corpus of thousands can be found and removed instead of crashing a long run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross.infra import SercrossError

__all__ = [
    "TARGET_SR",
    "VIDEO_SUFFIXES",
    "AudioError",
    "AudioInfo",
    "audio_info",
    "load_audio",
]

TARGET_SR = 16000
MIN_SECONDS = 0.1  # shorter clips are skipped: too few frames for the functionals
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm")

# Below this peak amplitude a signal is digital silence: even 24-bit PCM has a step of ~1.2e-7.
_SILENCE_PEAK = 1e-7

_NOT_AUDIO_HINT = "the file is not audio soundfile can read; re-download or convert it, or remove it"
_NOT_VIDEO_HINT = "the file is not a video PyAV can decode; re-download or convert it, or remove it"
_NO_AV_HINT = "reading audio from video needs PyAV: pip install 'sercross[video]' (or pip install av)"
_REMOVE_HINT = "re-download or re-export the file, or remove it from the corpus"


class AudioError(SercrossError):
    """An audio file that cannot be turned into a usable signal. The message starts with its path."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int
    duration: float  # seconds
    format: str


def _fail(path: Path, what: str, hint: str | None = None) -> AudioError:
    return AudioError(f"{path}: {what}", hint)


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _check_file(path: Path) -> None:
    """Reject what no decoder could handle, with a message more useful than a decoder's."""
    if not path.exists():
        raise _fail(path, "file does not exist", "check the path and the corpus directory")
    if path.is_dir():
        raise _fail(path, "is a directory, not an audio file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise _fail(path, "file is empty (0 bytes)", _REMOVE_HINT)


# ---------------------------------------------------------------------------------------------
# soundfile (WAV, FLAC, OGG, ... anything libsndfile reads)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf  # here, not at the top: `corpora list` and `check --quick` read no audio

    try:
        # A truncated file whose header promises more frames than it holds still reads: soundfile
        # returns only the frames that decoded, which is what we want.
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError) as exc:
        raise _fail(path, f"cannot be decoded as audio ({_short(exc)})", _NOT_AUDIO_HINT) from exc
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    return data, int(sr)


def _info_soundfile(path: Path) -> AudioInfo:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError) as exc:
        raise _fail(path, f"cannot be decoded as audio ({_short(exc)})", _NOT_AUDIO_HINT) from exc
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    sr = int(info.samplerate)
    frames = int(info.frames)
    return AudioInfo(
        sample_rate=sr,
        channels=int(info.channels),
        frames=frames,
        duration=frames / sr if sr > 0 else 0.0,
        format=str(info.format),
    )


def _short(exc: BaseException) -> str:
    """The decoder's own words, kept short; our message already names the file."""
    # libsndfile's str() is "Error opening '<path>': <reason>"; error_string is just the reason.
    text = str(getattr(exc, "error_string", None) or exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------------------------
# PyAV (sound track of video containers)


def _import_av(path: Path):
    # Imported lazily: PyAV is an optional extra, needed only by corpora shipped as video.
    try:
        import av
    except ImportError as exc:
        raise _fail(path, "cannot read audio from video: PyAV (av) is not installed", _NO_AV_HINT) from exc
    return av


def _av_errors(av) -> tuple[type[BaseException], ...]:
    # PyAV's errors also subclass the matching builtins (OSError, ValueError, ...), but not all do.
    return (av.error.FFmpegError, OSError, ValueError, EOFError)


def _open_container(av, path: Path):
    try:
        return av.open(str(path), mode="r")
    except _av_errors(av) as exc:
        raise _fail(path, f"cannot be opened as a video ({_short(exc)})", _NOT_VIDEO_HINT) from exc


def _first_audio_stream(container, path: Path):
    streams = container.streams.audio
    if len(streams) == 0:
        raise _fail(
            path,
            "video has no audio stream",
            "this clip has no sound track; remove it or supply its audio as a separate file",
        )
    return streams[0]


def _frame_to_array(frame) -> np.ndarray:
    """One decoded frame as a float32 (samples, channels) array scaled to [-1, 1]."""
    channels = len(frame.layout.channels)
    raw = frame.to_ndarray()
    if frame.format.is_planar:
        data = raw.reshape(channels, -1).T  # planar: one row per channel
    else:
        data = raw.reshape(-1, channels)  # packed: channels interleaved in a single row
    if np.issubdtype(data.dtype, np.floating):
        return data.astype(np.float32, copy=False)
    info = np.iinfo(data.dtype)
    if info.min == 0:  # unsigned (u8): silence sits at the midpoint
        mid = (info.max + 1) / 2
        return ((data.astype(np.float64) - mid) / mid).astype(np.float32)
    return (data.astype(np.float64) / -float(info.min)).astype(np.float32)


def _read_video(path: Path) -> tuple[np.ndarray, int]:
    av = _import_av(path)
    errors = _av_errors(av)
    container = _open_container(av, path)
    with container:
        stream = _first_audio_stream(container, path)
        chunks: list[np.ndarray] = []
        sr: int | None = None
        try:
            for frame in container.decode(stream):
                if frame.samples == 0:
                    continue
                chunk = _frame_to_array(frame)
                if sr is None:
                    sr = int(frame.sample_rate)
                elif int(frame.sample_rate) != sr or chunk.shape[1] != chunks[0].shape[1]:
                    raise _fail(
                        path,
                        "audio stream changes sample rate or channel count midway",
                        "convert the sound track to a plain WAV file first (e.g. with ffmpeg)",
                    )
                chunks.append(chunk)
        except errors as exc:
            # Like a truncated WAV, a damaged tail is tolerated if something decoded before it.
            if not chunks:
                raise _fail(path, f"audio stream cannot be decoded ({_short(exc)})", _NOT_VIDEO_HINT) from exc
    if not chunks or sr is None:
        raise _fail(path, "audio stream contains no samples", _REMOVE_HINT)
    return np.concatenate(chunks, axis=0), sr


def _info_video(path: Path) -> AudioInfo:
    av = _import_av(path)
    container = _open_container(av, path)
    with container:
        stream = _first_audio_stream(container, path)
        ctx = stream.codec_context
        sr = int(ctx.sample_rate or 0)
        channels = len(ctx.layout.channels) if ctx.layout is not None else int(ctx.channels or 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        # Containers rarely store an audio frame count; estimate it from the duration instead.
        frames = int(stream.frames) if stream.frames else int(round(duration * sr))
        fmt = container.format.name.split(",")[0].upper()
    return AudioInfo(sample_rate=sr, channels=channels, frames=frames, duration=duration, format=fmt)


# ---------------------------------------------------------------------------------------------
# public API


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channels, frames and duration from the header alone, without decoding.

    Unreadable files raise :class:`AudioError` just as :func:`load_audio` does; content problems
    (silence, NaN) are only found by decoding and are left to :func:`load_audio`.
    """
    path = Path(path)
    _check_file(path)
    return _info_video(path) if _is_video(path) else _info_soundfile(path)


def load_audio(path: str | os.PathLike, target_sr: int = TARGET_SR, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Decode any audio file into a 1-D float32 mono signal at target_sr.

    WAV/FLAC/OGG/... go through soundfile; files with a suffix in :data:`VIDEO_SUFFIXES` have
    their first audio stream decoded by PyAV. Channels are averaged, the rate is converted with
    polyphase filtering. Raises :class:`AudioError` (message starting with the path) for missing,
    empty, undecodable, silent, too short or non-finite audio.
    """
    if int(target_sr) != target_sr or target_sr <= 0:
        raise ValueError(f"target_sr must be a positive integer, got {target_sr!r}")
    target_sr = int(target_sr)
    path = Path(path)
    _check_file(path)
    data, sr = _read_video(path) if _is_video(path) else _read_soundfile(path)

    if data.size == 0 or data.shape[0] == 0:
        raise _fail(path, "contains no audio samples", _REMOVE_HINT)
    if sr <= 0:
        raise _fail(path, f"has an invalid sample rate ({sr} Hz)", _REMOVE_HINT)
    if not np.isfinite(data).all():
        raise _fail(path, "contains NaN or infinite samples", _REMOVE_HINT)
    if float(np.max(np.abs(data))) < _SILENCE_PEAK:
        raise _fail(
            path,
            "file is silent (peak amplitude below 1e-7)",
            "remove it; a silent clip carries no emotion to learn from",
        )

    duration = data.shape[0] / sr
    if duration < min_seconds:
        raise _fail(
            path,
            f"too short: {duration:.3g} s < {min_seconds:g} s",
            "remove the clip, or lower min_seconds if such short clips are expected",
        )

    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float64)
    if float(np.max(np.abs(mono))) < _SILENCE_PEAK:
        raise _fail(
            path,
            "is silent once its channels are averaged to mono (they cancel out)",
            "one channel is probably phase-inverted; fix or remove the file",
        )

    if sr != target_sr:
        from scipy.signal import resample_poly  # ~1 s to import: only when a file needs resampling

        g = math.gcd(sr, target_sr)
        mono = resample_poly(mono, target_sr // g, sr // g)
    return np.ascontiguousarray(mono, dtype=np.float32)
