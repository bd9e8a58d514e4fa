"""How many samples an MP3 file's frames hold, counted by walking their headers.

libsndfile (through mpg123) takes an MP3's length from its Xing/Info header, or, without one,
estimates it from the first frame's bitrate and the file size, and stops reading there. A
variable-bitrate file without that header, or several MP3s joined after one header, is then
read as its first part without an error. Walking the frame headers gives the true count, so
``files.read_audio_16k`` can refuse such a file rather than embed part of it.

The walk skips an ID3v2 tag at the start and stops at a trailing ID3v1 or APE tag. Anything it
does not recognise (free-format bitrate, junk between frames) gives no count: no verdict rather
than a wrong one.
"""
from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

#: kbit/s by bitrate index: (MPEG-1 or not, layer) -> table; index 0 (free format) and 15 are not walked.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
#: Sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and rate index.
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
#: Tags of a first frame that states the stream's length (LAME/Xing VBR, Xing CBR, Fraunhofer).
_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")


@dataclass(frozen=True)
class MpegFrames:
    """What the walk found: samples per channel in complete frames, whether the last frame is cut,
    and whether the first frame is a Xing/Info/VBRI header (then libsndfile's count is declared,
    not estimated)."""

    samples: int
    last_frame_cut: bool
    declares_length: bool


def count_mpeg_frames(path: Path) -> MpegFrames | None:
    """The frames of ``path`` from its first to its last; None when the walk cannot vouch for them."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = _audio_end(data)
        offset = first = _after_id3v2(data)
        samples, declares_length = 0, False
        while offset + 4 <= end:
            frame = _frame(data[offset : offset + 4])
            if frame is None:
                return None
            length, per_frame = frame
            if offset + length > end:
                return MpegFrames(samples, last_frame_cut=True, declares_length=declares_length)
            if offset == first:
                declares_length = any(tag in data[offset : offset + length] for tag in _LENGTH_TAGS)
            samples += per_frame
            offset += length
        return MpegFrames(samples, offset != end, declares_length) if samples else None


def _frame(header: bytes) -> tuple[int, int] | None:
    """(frame length in bytes, samples per channel) of a frame header, None if it is not one."""
    if header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate, rate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000, _RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384
    if layer == 2 or mpeg1:
        return 144 * bitrate // rate + padding, 1152
    return 72 * bitrate // rate + padding, 576


def _after_id3v2(data: mmap.mmap) -> int:
    if len(data) < 10 or data[:3] != b"ID3":
        return 0
    size = 0
    for byte in data[6:10]:  # "syncsafe": 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _audio_end(data: mmap.mmap) -> int:
    """Where the frames end: before a trailing ID3v1 tag and an APEv2 tag (in either order)."""
    end = len(data)
    if end >= 128 and data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
        size = int.from_bytes(data[end - 20 : end - 16], "little")  # the tag's items and footer
        has_header = data[end - 9] & 0x80  # flags byte 3, bit 31: a header precedes the items
        end -= size + (32 if has_header else 0)
    return end
