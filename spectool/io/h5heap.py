"""HDF5 global heap collections checked before the HDF5 library reads them.

Variable-length strings (attributes, label names, history) live in *global heap collections*
(``GCOL``). HDF5 (up to at least 2.0.0) walks a collection's objects by their stored sizes
without checking that the walk advances: one object whose size was damaged so that the walk
lands on an empty (zero) object header, or a size that wraps the pointer, makes it loop for ever
inside C, where no signal handler or timeout in Python can stop it (fuzzing found a 2-byte
change to a 142 kB set that hung ``open_set``). So each collection in the file is walked here
first, the same way, and a walk that would not end is a :class:`FormatError`.

The collections are found by their signature (``GCOL``, version 1, three zero bytes): a scan of
the whole file at roughly the speed of reading it (with the walks, ~20 ms for a 5.7 MB set). A
data block that happens to hold the 8-byte signature (a chance of 2^-64 per byte of compressed
data) is walked too, and refused only if that walk fails as well.
"""

from __future__ import annotations

import struct
from typing import IO

from spectool.errors import FormatError

SIGNATURE = b"GCOL\x01\x00\x00\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
BLOCK_BYTES = 4 * 2**20  # read at a time when looking for collections (16 MiB reads were slower)
WINDOW_BYTES = 2**20  # of a collection read at a time when walking it
_LENGTH_FORMATS = {2: "<H", 4: "<I", 8: "<Q"}


def check_global_heaps(stream: IO[bytes], name: str) -> None:
    """Refuse a file (seekable binary stream) holding a global heap collection HDF5 would loop on.

    The stream's position is restored. Raises :class:`FormatError` naming the collection's offset.
    """
    position = stream.tell()
    try:
        length = _size_of_lengths(stream)
        if length is None:
            return  # not a superblock spectool knows: HDF5 refuses the file itself
        for at in list(_signatures(stream)):
            problem = _walk(stream, at, length)
            if problem:
                raise FormatError(f"corrupt HDF5 global heap at byte {at}: {problem}", name)
    finally:
        stream.seek(position)


def _size_of_lengths(stream: IO[bytes]) -> int | None:
    """Bytes per stored length (2, 4 or 8) from the superblock at offset 0 (versions 0–3)."""
    stream.seek(0)
    head = stream.read(16)
    if not head.startswith(HDF5_MAGIC) or len(head) < 16:
        return None
    size = head[14] if head[8] in (0, 1) else head[10]
    return size if size in _LENGTH_FORMATS else None


def _signatures(stream: IO[bytes]):
    """Offsets of every collection signature, read in blocks (overlapping by a signature's length)."""
    offset, tail = 0, b""
    stream.seek(0)
    while True:
        block = stream.read(BLOCK_BYTES)
        if not block:
            return
        data, base = tail + block, offset - len(tail)
        at = data.find(SIGNATURE)
        while at != -1:
            yield base + at
            at = data.find(SIGNATURE, at + 1)
        tail = data[-(len(SIGNATURE) - 1):]
        offset += len(block)


def _walk(stream: IO[bytes], at: int, length: int) -> str | None:
    """Why HDF5's walk over the collection at ``at`` would not end, or None.

    Layout: signature (8), collection size (``length``), then objects: index (2), references (2),
    reserved (4), size (``length``), data padded to 8 bytes. Index 0 is the free space, whose size
    includes its header and is not padded. Bytes past the end of the file read as zeros (as HDF5's
    file driver returns them), so a walk running off the file is refused too. The collection is
    read a window at a time: a size claiming gigabytes costs no memory.
    """
    fmt, header = _LENGTH_FORMATS[length], 8 + length
    stream.seek(at)
    head = stream.read(header)
    if len(head) < header:
        return None  # no room for a size: HDF5 cannot read the collection either
    end = struct.unpack_from(fmt, head, 8)[0]
    item = struct.Struct("<H6x" + fmt[1:])  # an object header: index, (references, reserved), size
    window, first, p = b"", 0, header
    while p < end:
        if p + header > end:
            return None  # too small for an object header: free space to the end
        if p + header > first + len(window):
            stream.seek(at + p)
            window, first = stream.read(WINDOW_BYTES), p
            if len(window) < header:
                return f"objects run past the end of the file at +{p}"
        index, object_size = item.unpack_from(window, p - first)
        need = object_size if index == 0 else header + (object_size + 7) // 8 * 8
        if need == 0 or need > end - p:
            return f"object {index} at +{p} claims {object_size} bytes, {end - p} remain"
        p += need
    return None
