"""A ZIP writer whose memory does not grow with the number of members.

Python's `zipfile` keeps a `ZipInfo` (about half a kilobyte) per member until it writes the central
directory at the end: an export of millions of messages, one EML each, would hold hundreds of megabytes.
This writer appends each member's central directory entry to a spool file instead, and copies the spool
after the last member. It writes Deflate only, switches to ZIP64 where sizes, offsets or the member count
need it (APPNOTE 6.3.10, section 4.5.3), and patches a streamed member's sizes into its local header
afterwards, so its output must be a seekable file.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_MAX32, _MAX16 = 0xFFFFFFFF, 0xFFFF
_VERSION = 45  # 4.5: ZIP64
_MADE_BY = (3 << 8) | _VERSION  # Unix, so the permissions below are read
_UNIX_FILE = 0o100644 << 16
_DEFLATED = 8


def _dos_time(at: datetime) -> tuple[int, int]:
    return (at.hour << 11) | (at.minute << 5) | (at.second // 2), ((at.year - 1980) << 9) | (at.month << 5) | at.day


class ZipWriter:
    def __init__(self, path: Path, spool_dir: Path | None = None) -> None:
        self._out: BinaryIO = path.open("wb")
        self._central = tempfile.TemporaryFile(prefix="entrepot-zipdir-", dir=spool_dir)  # noqa: SIM115
        self._count = 0
        self._time, self._date = _dos_time(datetime.now(UTC))

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._out.close()
            self._central.close()

    def _local_header(self, name: bytes, crc: int, csize: int, usize: int, zip64: bool) -> bytes:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
        sizes = (_MAX32, _MAX32) if zip64 else (csize, usize)
        return _LOCAL.pack(0x04034B50, _VERSION, 0, _DEFLATED, self._time, self._date, crc, *sizes, len(name),
                           len(extra)) + name + extra

    def _central_entry(self, name: bytes, crc: int, csize: int, usize: int, offset: int) -> None:
        extra = b""
        fields = [v for v in (usize, csize, offset) if v >= _MAX32]
        if fields:
            extra = struct.pack("<HH", 1, 8 * len(fields)) + b"".join(struct.pack("<Q", v) for v in fields)
        self._central.write(_CENTRAL.pack(
            0x02014B50, _MADE_BY, _VERSION, 0, _DEFLATED, self._time, self._date, crc,
            min(csize, _MAX32), min(usize, _MAX32), len(name), len(extra), 0, 0, 0, _UNIX_FILE,
            min(offset, _MAX32)) + name + extra)
        self._count += 1

    def write(self, name: str, data: bytes) -> None:
        """A member held in memory (one message): sizes known, header written once."""
        packed = name.encode("ascii")
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = compressor.compress(data) + compressor.flush()
        crc, offset = zlib.crc32(data), self._out.tell()
        zip64 = len(data) >= _MAX32 or len(body) >= _MAX32
        self._out.write(self._local_header(packed, crc, len(body), len(data), zip64))
        self._out.write(body)
        self._central_entry(packed, crc, len(body), len(data), offset)

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> None:
        """A member of any size, compressed as it comes; its header is patched once the sizes are known.
        The ZIP64 extra field is always reserved, since the size is not known in advance."""
        packed = name.encode("ascii")
        offset = self._out.tell()
        self._out.write(self._local_header(packed, 0, 0, 0, True))
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        crc = usize = csize = 0
        for chunk in chunks:
            crc, usize = zlib.crc32(chunk, crc), usize + len(chunk)
            body = compressor.compress(chunk)
            csize += len(body)
            self._out.write(body)
        tail = compressor.flush()
        csize += len(tail)
        self._out.write(tail)
        end = self._out.tell()
        self._out.seek(offset)
        self._out.write(self._local_header(packed, crc, csize, usize, True))
        self._out.seek(end)
        self._central_entry(packed, crc, csize, usize, offset)

    def close(self) -> None:
        start = self._out.tell()
        self._central.seek(0)
        while chunk := self._central.read(1 << 20):
            self._out.write(chunk)
        size = self._out.tell() - start
        if self._count >= _MAX16 or start >= _MAX32 or size >= _MAX32:
            end64 = self._out.tell()
            self._out.write(_END64.pack(0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, self._count, self._count,
                                        size, start))
            self._out.write(_LOCATOR64.pack(0x07064B50, 0, end64, 1))
        self._out.write(_END.pack(0x06054B50, 0, 0, min(self._count, _MAX16), min(self._count, _MAX16),
                                  min(size, _MAX32), min(start, _MAX32), 0))
        self._out.close()
        self._central.close()
