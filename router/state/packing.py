"""Results kept in a router's memory, compressed.

The in-process dedupe (dedupe.py) keeps the encoded result of every recent answer so that
a duplicate gets it again; at 500 requests/s its answers were most of a router's memory
beyond its libraries. A result is JSON whose field names repeat in every one, so it is
kept deflated against a dictionary of those names (taken from the result and attempt
models, so a field added later is in it too): a 1.2 KB answer keeps in about 450 bytes
(37%), for about 13 µs of CPU when it is stored and 4 µs when a duplicate reads it back.

The compressor's start state is made once and copied per result, since setting up a new
one (its window and hash tables) costs more than compressing a small result.
"""

from __future__ import annotations

import zlib

from llmrouter.schemas import LLMResult
from llmrouter.schemas.attempts import Attempt

__all__ = ["pack", "unpack"]

#: raw deflate (no header or checksum: the bytes never leave the process) with a 4 KiB
#: window; a larger one costs more to copy per result than it saves on results this size
_WINDOW_BITS = -12
_MEMORY_LEVEL = 4
_LEVEL = 1


def _dictionary() -> bytes:
    """What most results share: their field names as the encoder writes them, and the
    commonest values (the likeliest strings last, where a match costs least)."""
    names = ["schema_version", *Attempt.model_fields, *LLMResult.model_fields]
    return b'null,false,true,"answer","live","ok",' + ",".join(f'"{n}":' for n in names).encode()


_DICTIONARY = _dictionary()
_START = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WINDOW_BITS, _MEMORY_LEVEL, zdict=_DICTIONARY)


def pack(result: bytes) -> bytes:
    """`result` compressed (`unpack` gives it back, byte for byte)."""
    compressor = _START.copy()
    return compressor.compress(result) + compressor.flush()


def unpack(packed: bytes) -> bytes:
    """The result `pack` was given."""
    decompressor = zlib.decompressobj(_WINDOW_BITS, zdict=_DICTIONARY)
    return decompressor.decompress(packed) + decompressor.flush()
