"""Reading audio files for the command line: formats, downmix, resampling accuracy, streaming, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from helpers.audio import tone, write_audio, write_bad_files
from hear_byols.audio import files as audio_files
from hear_byols.audio.files import TARGET_RATE, read_audio_16k, resampled_length
from hear_byols.audio.mpeg import count_mpeg_frames
from hear_byols.errors import AudioFileError, HearByolsError

RATES = (8000, 22050, 44100, 48000)
#: Edge samples left out of the accuracy check (the resampler's filter settles over ~1 ms).
EDGE = 400


def analytic_tone(n_samples: int, channels: int = 1) -> np.ndarray:
    """The mean of ``tone``'s channels, sampled directly at 16 kHz."""
    return tone(TARGET_RATE, n_samples / TARGET_RATE, channels).mean(axis=1)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("subtype, tolerance", [("PCM_16", 2e-4), ("PCM_24", 1e-5), ("FLOAT", 1e-5)])
def test_resampled_tone_matches_the_analytic_16k_tone(tmp_path: Path, rate: int, subtype: str, tolerance: float) -> None:
    data = tone(rate, 1.3)
    audio = read_audio_16k(write_audio(tmp_path / "tone.wav", data, rate, subtype))
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) == resampled_length(len(data), rate) == round(len(data) * 16000 / rate)
    assert (audio.source_rate, audio.channels) == (rate, 1)
    expected = analytic_tone(len(audio.samples))
    assert np.abs(audio.samples - expected)[EDGE:-EDGE].max() < tolerance


def test_16k_mono_is_read_sample_for_sample(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    assert np.array_equal(read_audio_16k(path).samples, sf.read(path, dtype="float32")[0])


def test_stereo_is_downmixed_to_the_mean_of_the_channels(tmp_path: Path) -> None:
    stereo = tone(16000, 1.0, channels=2)
    audio = read_audio_16k(write_audio(tmp_path / "s.wav", stereo, 16000, "FLOAT"))
    assert audio.channels == 2
    left, right = stereo.astype(np.float32).T
    assert np.array_equal(audio.samples, np.stack([left, right], 1).mean(axis=1, dtype=np.float32))


@pytest.mark.parametrize("rate", [22050, 48000])
def test_downmix_happens_before_resampling(tmp_path: Path, rate: int) -> None:
    stereo = tone(rate, 1.0, channels=2).astype(np.float32)
    mixed = stereo.mean(axis=1, dtype=np.float32)
    from_stereo = read_audio_16k(write_audio(tmp_path / "s.wav", stereo, rate, "FLOAT")).samples
    from_mono = read_audio_16k(write_audio(tmp_path / "m.wav", mixed, rate, "FLOAT")).samples
    assert np.array_equal(from_stereo, from_mono)
    assert np.abs(from_stereo - analytic_tone(len(from_stereo), channels=2))[EDGE:-EDGE].max() < 1e-5


def test_streaming_in_small_blocks_equals_one_shot_resampling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = np.random.default_rng(0).uniform(-0.5, 0.5, (44100 * 2 + 123, 2)).astype(np.float32)
    path = write_audio(tmp_path / "noise.wav", data, 44100, "FLOAT")
    monkeypatch.setattr(audio_files, "BLOCK_FRAMES", 1000)
    streamed = read_audio_16k(path).samples
    whole = soxr.resample(data.mean(axis=1, dtype=np.float32), 44100, TARGET_RATE, quality=audio_files.RESAMPLE_QUALITY)
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


@pytest.mark.parametrize("name, subtype", [("a.flac", "PCM_24"), ("a.ogg", "VORBIS"), ("a.mp3", "MPEG_LAYER_III")])
def test_compressed_formats(tmp_path: Path, name: str, subtype: str) -> None:
    if subtype not in sf.available_subtypes(Path(name).suffix[1:].upper()):
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {subtype}")
    audio = read_audio_16k(write_audio(tmp_path / name, tone(44100, 1.5, channels=2), 44100, subtype))
    assert (audio.source_rate, audio.channels) == (44100, 2)
    assert abs(audio.duration_s - 1.5) < 0.1  # lossy codecs pad by a few ms
    expected = analytic_tone(len(audio.samples), channels=2)
    if name.endswith(".flac"):
        assert np.abs(audio.samples - expected)[EDGE:-EDGE].max() < 1e-5


def test_silence_is_fine(tmp_path: Path) -> None:
    audio = read_audio_16k(write_audio(tmp_path / "quiet.wav", np.zeros(8000), 8000, "PCM_16"))
    assert len(audio.samples) == 16000 and not audio.samples.any()


@pytest.mark.parametrize(
    "kind, message, fix",
    [
        ("empty", r"empty file \(0 bytes\)", "re-copy"),
        ("text", "not a readable audio file.*Format not recognised", "renamed with an audio extension"),
        ("corrupt", "not a readable audio file", "not truncated"),
    ],
)
def test_unreadable_files_name_the_path_and_the_fix(tmp_path: Path, kind: str, message: str, fix: str) -> None:
    path = write_bad_files(tmp_path)[kind]
    with pytest.raises(AudioFileError, match=message) as info:
        read_audio_16k(path)
    assert str(info.value).startswith(f"{path}: ") and fix in str(info.value)
    assert isinstance(info.value, HearByolsError)


def test_a_file_without_frames_is_refused(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "none.wav", np.zeros((0, 1)), 16000, "PCM_16")
    with pytest.raises(AudioFileError, match=r"holds no audio samples \(0 frames"):
        read_audio_16k(path)


def test_nan_in_a_float_file_is_refused(tmp_path: Path) -> None:
    data = tone(16000, 1.0)
    data[1234] = np.nan
    path = write_audio(tmp_path / "nan.wav", data, 16000, "FLOAT")
    with pytest.raises(AudioFileError, match="NaN or Inf.*frame 1234"):
        read_audio_16k(path)


#: Every container the reader accepts, as (file name, subtype): each is cut short below.
TRUNCATABLE = [("a.wav", "PCM_16"), ("a.wav", "FLOAT"), ("a.rf64", "PCM_24"), ("a.aiff", "PCM_16"),
               ("a.flac", "PCM_16"), ("a.ogg", "VORBIS"), ("a.mp3", "MPEG_LAYER_III")]


def cut_copy(path: Path, keep: float) -> Path:
    """``path``'s first ``keep`` fraction of bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    cut = path.with_name("cut" + path.suffix)
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


@pytest.mark.parametrize("name, subtype", TRUNCATABLE)
@pytest.mark.parametrize("channels", [1, 2])
def test_a_truncated_file_is_never_read_as_its_readable_part(tmp_path: Path, name: str, subtype: str, channels: int) -> None:
    fmt = "RF64" if name.endswith(".rf64") else Path(name).suffix[1:].upper()
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {subtype}")
    path = tmp_path / name
    sf.write(path, tone(16000, 3.0, channels), 16000, subtype=subtype, format=fmt)
    assert abs(read_audio_16k(path).duration_s - 3.0) < 0.1  # the complete file reads
    for keep in (0.5, 0.8, 0.97, 0.995):
        with pytest.raises(AudioFileError, match="truncated"):  # said outright, or among the causes of an unreadable file
            read_audio_16k(cut_copy(path, keep))


def test_a_wav_whose_header_declares_60_s_but_holds_30_s_says_so(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.wav", tone(16000, 60.0), 16000, "PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 30 * 16000 * 2])  # the 44-byte header, then 30 s of 16-bit samples
    with pytest.raises(AudioFileError, match=r"truncated: its header declares 1920000 bytes of audio data, "
                                             r"only 960000 are present \(50%\)"):
        read_audio_16k(path)


def test_a_streamed_wav_of_unknown_length_still_reads(tmp_path: Path) -> None:
    """Writers that cannot seek back leave 0xFFFFFFFF as the data size: the length is unknown, not cut."""
    path = write_audio(tmp_path / "stream.wav", tone(16000, 1.0), 16000, "PCM_16")
    data = bytearray(path.read_bytes())
    data[40:44] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert len(read_audio_16k(path).samples) == 16000


def test_a_flac_that_does_not_declare_its_length_fails_cleanly(tmp_path: Path) -> None:
    """Encoders writing to a pipe leave STREAMINFO's sample count at 0 ("unknown"); libsndfile
    cannot read such a file to its end, and it used to size a buffer of 2**63 frames (raw ValueError)."""
    path = write_audio(tmp_path / "piped.flac", tone(16000, 1.0), 16000, "PCM_16")
    data = bytearray(path.read_bytes())
    fields = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # STREAMINFO: rate, channels, bits, 36-bit count
    data[18:26] = fields.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        read_audio_16k(path)


def test_an_rf64_cut_inside_its_size_chunk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.rf64"
    sf.write(path, tone(16000, 1.0), 16000, format="RF64", subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])  # inside ds64
    with pytest.raises(AudioFileError):
        read_audio_16k(path)


def mp3_bytes(path: Path, signal: np.ndarray) -> bytes:
    """A 16 kHz mono MP3 as libsndfile writes it: variable bitrate, a Xing header frame first."""
    sf.write(path, signal, 16000, format="MP3")
    return path.read_bytes()


def without_first_frame(data: bytes) -> bytes:
    """``data`` from its second frame header (the first frame is the Xing header, mostly zeros)."""
    second = data.find(data[:2], 4)
    assert second > 0 and data[second] == 0xFF
    return data[second:]


def speech_like(seconds_tone: float, seconds_noise: float) -> np.ndarray:
    """A tone, then noise, then a tone: frames of very different bitrates."""
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, round(16000 * seconds_noise))
    return np.concatenate([tone(16000, seconds_tone)[:, 0], noise, tone(16000, 1.0)[:, 0]])


def test_mp3s_joined_into_one_file_are_refused_not_read_as_the_first(tmp_path: Path) -> None:
    """libsndfile stops at the first file's Xing length; the frames say there is twice as much."""
    path = tmp_path / "joined.mp3"
    path.write_bytes(mp3_bytes(tmp_path / "one.mp3", tone(16000, 2.0)) * 2)
    with pytest.raises(AudioFileError, match=r"only 32000 of the \d+ samples its MPEG frames hold can be read"):
        read_audio_16k(path)


def test_a_vbr_mp3_without_a_xing_header_is_read_whole_or_refused(tmp_path: Path) -> None:
    """Without the header libsndfile estimates the length from the first frame's bitrate. Too long
    an estimate is harmless (decoding ends with the frames); too short a one cuts the file."""
    low_first = tmp_path / "low_first.mp3"
    silence_then_noise = np.concatenate([np.zeros(16000), speech_like(0.0, 2.0)])
    low_first.write_bytes(without_first_frame(mp3_bytes(tmp_path / "a.mp3", silence_then_noise)))
    assert read_audio_16k(low_first).duration_s >= 4.0  # the whole file, not the (longer) estimate
    high_first = tmp_path / "high_first.mp3"
    high_first.write_bytes(without_first_frame(mp3_bytes(tmp_path / "b.mp3", speech_like(2.0, 2.0))))
    with pytest.raises(AudioFileError, match="only .* samples its MPEG frames hold can be read"):
        read_audio_16k(high_first)


def test_an_mp3_with_id3_and_ape_tags_reads_whole(tmp_path: Path) -> None:
    """Tags before and after the frames are not frames: the walk skips them and no data is refused."""
    data = mp3_bytes(tmp_path / "plain.mp3", tone(16000, 2.0))
    id3v2 = b"ID3\x03\x00\x00" + bytes([0, 0, 1, 0]) + b"\x00" * 128  # a 128-byte tag ("syncsafe" size 0x80)
    ape_items = b"\x00" * 40
    ape_footer = b"APETAGEX" + (2000).to_bytes(4, "little") + (len(ape_items) + 32).to_bytes(4, "little") \
        + (0).to_bytes(4, "little") + (0).to_bytes(4, "little") + b"\x00" * 8
    id3v1 = b"TAG" + b"\x00" * 125
    path = tmp_path / "tagged.mp3"
    path.write_bytes(id3v2 + data + ape_items + ape_footer + id3v1)
    assert count_mpeg_frames(path) == count_mpeg_frames(tmp_path / "plain.mp3") is not None  # walked, not given up
    assert np.array_equal(read_audio_16k(path).samples, read_audio_16k(tmp_path / "plain.mp3").samples)
