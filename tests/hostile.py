"""Inputs that once hung or crashed a plan: YAML alias bombs, and images whose header promises
more pixels than any machine holds."""

from __future__ import annotations

import struct
import zlib


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow-style YAML list whose aliases expand to ``width ** levels`` values."""
    text = f"&l0 [{', '.join(['x'] * width)}]"
    for level in range(1, levels):
        text = f"&l{level} [{text}, {', '.join([f'*l{level - 1}'] * (width - 1))}]"
    return text


def png_header_claiming(width: int, height: int) -> bytes:
    """A greyscale PNG whose header claims ``width`` x ``height`` pixels, with one row of data:
    what a decompression bomb looks like to a reader of headers, in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
