"""A loaded file read back after its load: its hash again, and its records counted without the CSV reader.

Every row is accounted for against the file itself: the rows the reader returned plus the lines it
rejected must be the records the file holds. They are counted here from the file's bytes by the
quoting rules of the contract's CSV dialect (RFC 4180: fields quoted and quotes escaped with `"`;
a line end ends a record only outside a quoted field; empty lines hold no record, as the reader
skips them), a block at a time with bytes methods and one regular expression: no loop over rows.

The same pass hashes the bytes again: a file whose hash is not the one taken before the read was
rewritten while it was being read, and the rows read may be of neither version.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 20
# A quoted field, escaped quotes ("") included: each escape closes one quoted stretch and opens the next.
QUOTED = re.compile(rb'"[^"]*"')
# An empty line: a line end right after a line end.
EMPTY_LINE = re.compile(rb"\n(?=\n)")


class RecordCounter:
    """The records of a CSV text fed in blocks; `unclosed_line` is the line a quoted field opened on
    and never closed (lines counted as records, the header being line 1, as the reader numbers them)."""

    def __init__(self) -> None:
        self.records = 0
        self.in_quote = False
        self.has_content = False  # the record being read has a byte already
        self.carry = b""  # a block's final \r, which may be half of a \r\n
        self.opened_on: int | None = None

    def feed(self, block: bytes) -> None:
        block = self.carry + block
        self.carry = b""
        if block.endswith(b"\r"):
            block, self.carry = block[:-1], b"\r"
        if b"\r" in block:
            block = re.sub(rb"\r\n?", b"\n", block)
        if self.in_quote:
            end = block.find(b'"')
            if end < 0:
                return  # inside the quoted field throughout
            block, self.in_quote = block[end + 1 :], False
            self.has_content = True
        if b'"' in block:
            # Each whole quoted field becomes one byte of content; a quote left over opens a field
            # that runs past this block.
            block = QUOTED.sub(b"q", block)
            left = block.find(b'"')
            if left >= 0:
                self._lines(block[:left])
                self.has_content, self.in_quote, self.opened_on = True, True, self.records + 1
                return
        self._lines(block)

    def _lines(self, text: bytes) -> None:
        ends = text.count(b"\n")
        if not ends:
            self.has_content = self.has_content or bool(text)
            return
        empty = len(EMPTY_LINE.findall(text)) + (0 if self.has_content or not text.startswith(b"\n") else 1)
        self.records += ends - empty
        self.has_content = not text.endswith(b"\n")

    def close(self) -> None:
        if self.carry:
            self.feed(b"\n")
        if self.has_content and not self.in_quote:
            self.records += 1
            self.has_content = False

    @property
    def unclosed_line(self) -> int | None:
        return self.opened_on if self.in_quote else None


@dataclass(frozen=True)
class ReadBack:
    sha256: str
    records: int | None  # the CSV's records, its header included; None when not counted
    unclosed_line: int | None = None
    problem: str | None = None  # why the records could not be counted


def read_back(path: Path, count: str | None) -> ReadBack:
    """Hash `path` again and, for `count` "csv" or "gzip", count its records (of its decompressed
    text for gzip; members after the first too, as gzip readers do)."""
    digest = hashlib.sha256()
    counter = RecordCounter() if count else None
    inflate = zlib.decompressobj(wbits=31) if count == "gzip" else None
    problem = None
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
            if counter is None or problem:
                continue
            if inflate is None:
                counter.feed(block)
                continue
            try:
                while block:
                    counter.feed(inflate.decompress(block))
                    block = b""
                    if inflate.eof:
                        # The next member, if any (zeros padding the last one are no member).
                        block, inflate = inflate.unused_data.lstrip(b"\x00"), zlib.decompressobj(wbits=31)
            except zlib.error as error:
                problem = f"its gzip stream cannot be read to count its records ({error})"
    if counter is None or problem:
        return ReadBack(digest.hexdigest(), None, problem=problem)
    counter.close()
    return ReadBack(digest.hexdigest(), counter.records, counter.unclosed_line)


LINE_END_NAMES = {b"\r\n": "CRLF", b"\n": "LF", b"\r": "CR"}
# A line end of another kind than the first line's, for each kind the first line can end with.
OTHER_LINE_END = {b"\r\n": re.compile(rb"(?<!\r)\n|\r(?!\n)"), b"\n": re.compile(rb"\r\n?"), b"\r": re.compile(rb"\r?\n")}


def mixed_line_end(path: Path, compressed: bool) -> str | None:
    """Where a CSV's lines stop ending as its first one does (DuckDB's reader takes one kind of line
    end per file and cannot read on past another), as a reason naming the line; None if they never do."""
    opener = gzip.open if compressed else open
    first, line, tail = None, 1, b""  # tail: a block's final \r, which may be half of a \r\n
    with opener(path, "rb") as f:
        for block in [*iter(lambda: f.read(BLOCK), b""), None]:
            if block is None:  # the end: a \r left over ends the last line
                text, tail = tail + b"\n" if tail else b"", b""
            else:
                text, tail = tail + block, b""
                if text.endswith(b"\r"):
                    text, tail = text[:-1], b"\r"
            if first is None:
                found = re.search(rb"\r\n|\n|\r", text)
                if found is None:
                    continue
                first = found.group()
            other = OTHER_LINE_END[first].search(text)
            if other is not None:
                line += text.count(first, 0, other.start())
                name = LINE_END_NAMES[other.group()]
                return (
                    f"line {line} ends with {name} where the lines before it end with {LINE_END_NAMES[first]} (DuckDB's CSV "
                    "reader reads one kind of line end per file): end every line the same way and land the file again"
                )
            line += text.count(first)
    return None
