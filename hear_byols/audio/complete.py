"""Whether an audio file was cut short, told from its container before it is decoded.

An interrupted copy or download leaves a file whose beginning is intact, and libsndfile reads
what is there without complaint: for WAV, RF64 and AIFF it shortens the frame count to the
data present, for Ogg it takes the length from the last page it finds. Such a file would
decode as its first part. Those containers say how much they hold, or how they end:

- WAV (RIFF, RIFX), RF64/BW64 and AIFF/AIFC declare the size of their audio data chunk; fewer
  bytes present is a cut. A RIFF data size of 0xFFFFFFFF (left by writers that cannot seek
  back) declares nothing, so such a file is not judged.
- An Ogg stream (Vorbis, Opus, FLAC in Ogg) ends with a complete page flagged end-of-stream; an
  incomplete last page, or a complete one without the flag, is a cut.

FLAC and MP3 declare their length in frames (FLAC's STREAMINFO, MP3's Xing/Info header), which
``files.read_audio_16k`` compares with the frames it decodes.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from hear_byols.errors import AudioFileError

_UNKNOWN_SIZE = 0xFFFFFFFF
#: The largest Ogg page: 27 header bytes, 255 lacing values, 255 segments of 255 bytes.
_MAX_OGG_PAGE = 27 + 255 + 255 * 255
_OGG_END_OF_STREAM = 0x04
#: What a truncation message ends with: the likely cause and the fix.
CUT_SHORT = "as an interrupted copy or download leaves it; copy or export it again"


def check_complete(path: Path) -> None:
    """Raise AudioFileError when ``path``'s container shows it was cut short; other files pass."""
    with open(path, "rb") as fh:
        check_complete_stream(fh, os.fstat(fh.fileno()).st_size, path)


def check_complete_stream(fh: BinaryIO, size: int, name: str | Path) -> None:
    """``check_complete`` of an open seekable binary file of ``size`` bytes (an HTTP upload in a
    ``BytesIO``, say); ``name`` is what the message calls it."""
    fh.seek(0)
    head = fh.read(12)
    if head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        _check_declared(name, _riff_data_size(fh, head[:4], size), size)
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        _check_declared(name, _aiff_data_size(fh, size), size)
    elif head[:4] == b"OggS":
        _check_ogg_end(name, fh, size)


def _check_declared(path: str | Path, declared: tuple[int, int] | None, size: int) -> None:
    """``declared``: the data chunk's (offset of its first byte, declared byte count), if known."""
    if declared is None:
        return
    start, length = declared
    present = max(0, size - start)
    if present < length:
        raise AudioFileError(
            f"{path}: truncated: its header declares {length} bytes of audio data, only {present} are present "
            f"({100 * present / length:.0f}%), {CUT_SHORT}"
        )


def _chunks(fh: BinaryIO, size: int, byte_order: str) -> Iterator[tuple[bytes, int, int]]:
    """(id, body offset, body size) of each chunk after the 12-byte file header, while headers fit."""
    offset = 12
    while offset + 8 <= size:
        fh.seek(offset)
        chunk_id, length = struct.unpack(f"{byte_order}4sI", fh.read(8))
        yield chunk_id, offset + 8, length
        offset += 8 + length + (length & 1)  # chunks are padded to an even size


def _riff_data_size(fh: BinaryIO, kind: bytes, size: int) -> tuple[int, int] | None:
    data_size_64 = None
    for chunk_id, body, length in _chunks(fh, size, ">" if kind == b"RIFX" else "<"):
        if chunk_id == b"ds64" and length >= 16 and body + 16 <= size:  # RF64: the real sizes, 64-bit
            fh.seek(body + 8)
            (data_size_64,) = struct.unpack("<Q", fh.read(8))
        elif chunk_id == b"data":
            if length == _UNKNOWN_SIZE:
                return None if data_size_64 is None else (body, data_size_64)
            return body, length
    return None  # no data chunk header: libsndfile refuses the file itself


def _aiff_data_size(fh: BinaryIO, size: int) -> tuple[int, int] | None:
    for chunk_id, body, length in _chunks(fh, size, ">"):
        if chunk_id == b"SSND":
            return body, length
    return None


def _check_ogg_end(path: str | Path, fh: BinaryIO, size: int) -> None:
    """The file must end exactly where a complete page flagged end-of-stream ends."""
    start = max(0, size - _MAX_OGG_PAGE)
    fh.seek(start)
    tail = fh.read()
    page = tail.rfind(b"OggS")
    while page >= 0:
        end = _ogg_page_end(tail, page)
        if end == len(tail):
            if tail[page + 5] & _OGG_END_OF_STREAM:
                return
            raise AudioFileError(f"{path}: truncated: its Ogg stream stops without an end-of-stream page, {CUT_SHORT}")
        page = tail.rfind(b"OggS", 0, page)  # a capture pattern inside packet data, or an incomplete page
    raise AudioFileError(f"{path}: truncated: its last Ogg page is incomplete, {CUT_SHORT}")


def _ogg_page_end(data: bytes, page: int) -> int | None:
    """Where the page starting at ``page`` ends, if its header is there to say."""
    if page + 27 > len(data) or data[page + 4] != 0:  # stream structure version 0
        return None
    segments = data[page + 26]
    lacing = data[page + 27 : page + 27 + segments]
    if len(lacing) < segments:
        return None
    return page + 27 + segments + sum(lacing)
