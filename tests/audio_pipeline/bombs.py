"""Hostile recordings, built the way an attacker would: a decompression bomb in Ogg/Opus.

A real Opus file from ffmpeg is repeated page by page, and every page's granule position (the
sample count the container claims so far) is scaled down: ffprobe reads the last granule and
reports a short recording, while the decoder decodes every packet. The page checksums are
recomputed, so every tool accepts the file.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

OPUS_RATE = 48_000  # granule positions of Opus count samples at 48 kHz, whatever the input


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB.

    Not getrusage's ru_maxrss: Linux carries into it the memory of the image a process was
    exec'd from, so a child of a large test process would report the test's own size.
    """
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024  # type: ignore[union-attr]


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte << 24
        for _ in range(8):
            value = (value << 1) ^ 0x04C11DB7 if value & 0x80000000 else value << 1
        table.append(value & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The checksum of an Ogg page (CRC-32, polynomial 0x04C11DB7, not reflected, zero start)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _TABLE[((crc >> 24) ^ byte) & 0xFF]) & 0xFFFFFFFF
    return crc


def ogg_pages(data: bytes) -> list[bytearray]:
    pages, at = [], 0
    while at < len(data):
        if data[at : at + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {at}")
        segments = data[at + 27 : at + 27 + data[at + 26]]
        size = 27 + len(segments) + sum(segments)
        pages.append(bytearray(data[at : at + size]))
        at += size
    return pages


def _sealed(page: bytearray, *, granule: int, sequence: int, last: bool) -> bytes:
    continued = page[5] & 0x01
    page[5] = continued | (0x04 if last else 0)  # end-of-stream only on the final page
    page[6:14] = struct.pack("<q", granule)
    page[18:22] = struct.pack("<I", sequence)
    page[22:26] = b"\0\0\0\0"
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def opus_granule_bomb(path: Path, *, block_s: float, repeats: int, claimed_s: float) -> Path:
    """An Ogg/Opus file that decodes to `block_s * repeats` seconds of noise but whose
    granule positions claim `claimed_s`; made from `block_s` seconds encoded by ffmpeg."""
    block = path.with_suffix(".block.opus")
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
            "-i", f"anoisesrc=d={block_s}:c=pink:a=0.3",
            "-ac", "1", "-c:a", "libopus", "-b:a", "6k", str(block),
        ],
        check=True,
    )  # fmt: skip
    head, tags, *audio = ogg_pages(block.read_bytes())
    block.unlink()
    granules = [struct.unpack("<q", bytes(page[6:14]))[0] for page in audio]
    pre_skip = struct.unpack("<H", bytes(head[38:40]))[0]  # OpusHead starts at byte 28
    scale = (claimed_s * OPUS_RATE + pre_skip) / (granules[-1] * repeats)
    out = [bytes(head), bytes(tags)]
    for copy in range(repeats):
        for index, page in enumerate(audio):
            out.append(
                _sealed(
                    bytearray(page),
                    granule=int((copy * granules[-1] + granules[index]) * scale),
                    sequence=len(out),
                    last=copy == repeats - 1 and index == len(audio) - 1,
                )
            )
    path.write_bytes(b"".join(out))
    return path
