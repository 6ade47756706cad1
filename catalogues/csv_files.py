"""CSV text files: the encoding, the delimiter, and the records as lists of text.

The encoding is the one given if the bytes decode with it; else UTF-16 (with a BOM),
UTF-8, or Windows-1252 (what spreadsheet exports on UK desktops produce), refusing a
file that mixes UTF-8 and Windows-1252 text. The delimiter is sniffed from the first
``HEADER_SEARCH_ROWS`` lines unless given. A file is never held as decoded text: it is
decoded a megabyte at a time to check, then streamed.
"""

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from catalogues.errors import FileFormatError

HEADER_SEARCH_ROWS = 60  # the rows where a header may be: sniffed for the delimiter, searched for headings
_CHUNK = 1 << 20  # bytes decoded at a time when checking an encoding


def _check_decodes(data: bytes, encoding: str) -> None:
    """Raise UnicodeDecodeError (offsets into the whole file) unless ``data`` decodes.

    Decoded a megabyte at a time and thrown away: a large file is never held as text.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        try:
            decoder.decode(view[start : start + _CHUNK], final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            raise UnicodeDecodeError(exc.encoding, data, start + exc.start, start + exc.end, exc.reason) from None


# UTF-8 for accented letters, "£", "°", non-breaking space, dashes, quotes and "€": as
# Windows-1252 they read "Ã©", "Â£", "â€“", which real Windows-1252 text never holds.
_UTF8_LETTERS = re.compile(rb"\xc3[\x80-\xbf]|\xc2[\xa0-\xbf]|\xe2\x80[\x90-\xbf]|\xe2\x82\xac")


def _encoding(data: bytes, path: Path, encoding: str | None) -> str:
    """The encoding to read a CSV file with: the given one if it fits, else detected."""
    if encoding:
        try:
            _check_decodes(data, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FileFormatError(f"{path.name}: cannot be decoded as {encoding}: {exc}") from exc
        return encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            _check_decodes(data, "utf-16")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path.name}: starts like UTF-16 but is damaged ({exc})") from exc
        return "utf-16"
    if b"\x00" in data[:4096]:
        raise FileFormatError(f"{path.name}: binary data (NUL bytes) where a CSV text file was expected")
    try:
        _check_decodes(data, "utf-8-sig")
        return "utf-8-sig"
    except UnicodeDecodeError:
        # Windows-1252 is what spreadsheet exports on UK desktops produce.
        try:
            _check_decodes(data, "cp1252")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path.name}: not UTF-8, UTF-16 or Windows-1252 text ({exc})") from exc
        # ... but not when UTF-8 letters are in it too (rows pasted from two exports):
        # read as Windows-1252 they would be stored garbled ("CafÃ©").
        utf8 = _UTF8_LETTERS.search(data)
        if utf8:
            raise FileFormatError(
                f"{path.name}: line {data.count(b'\n', 0, utf8.start()) + 1}: mixes UTF-8 and Windows-1252 "
                "text; save the file again in one encoding (UTF-8)"
            ) from None
        return "cp1252"


def _text_stream(data: bytes, encoding: str) -> io.TextIOWrapper:
    # BytesIO shares the bytes object's buffer: no copy of the file is made.
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ",;\t|"}
        return max(counts, key=counts.__getitem__) if any(counts.values()) else ","


def _encoding_and_delimiter(path: Path, data: bytes, delimiter: str | None, encoding: str | None) -> tuple[str, str]:
    """The file's encoding and delimiter: as given, or detected (see :func:`csv_rows`)."""
    enc = _encoding(data, path, encoding)
    if delimiter:
        return enc, delimiter
    with _text_stream(data, enc) as head:
        return enc, _sniff_delimiter("".join(itertools.islice(head, HEADER_SEARCH_ROWS)))


def csv_records(path: Path, data: bytes, delimiter: str | None, encoding: str | None) -> list[list[str]] | None:
    """``list(csv_rows(...))`` read in one go, or None where that needs ``csv_rows`` itself.

    The csv reader runs over the whole file in C and the cells are stripped a row at a
    time in C, without ``csv_rows``' per-record bookkeeping (a record's number for a
    malformed-CSV message, the first line of the last record for an unclosed quote).
    None: a malformed record, or a record spanning several lines (the number of records
    is then below the number of lines read), for which ``csv_rows`` gives the message or
    the check. An encoding that does not fit raises as ``csv_rows`` does.
    """
    enc, delim = _encoding_and_delimiter(path, data, delimiter, encoding)
    with _text_stream(data, enc) as stream:
        reader = csv.reader(stream, delimiter=delim)
        try:
            records = list(reader)
        except csv.Error:
            return None
        if reader.line_num != len(records):
            return None
    if not _SPACE_IN_A_CELL.search(data.decode(enc)):
        return records  # no cell has whitespace to strip (cells hold no line break here)
    strip = str.strip
    return [list(map(strip, row)) for row in records]


# What ``str.strip()`` removes (``\s`` in a ``str`` pattern, see catalogues.normalise.clean_text),
# line breaks aside: a record on one line has none in its cells.
_SPACE_IN_A_CELL = re.compile(r"[^\S\r\n]")


def csv_rows(path: Path, data: bytes, delimiter: str | None, encoding: str | None) -> Iterator[list[str]]:
    """The records of a CSV file's bytes as lists of stripped text, one at a time.

    ``encoding`` and ``delimiter`` as given, or detected (UTF-8, UTF-16 with a BOM, or
    Windows-1252; the delimiter sniffed from the first rows). A malformed record, or a
    quote never closed, raises ``FileFormatError`` naming the row.
    """
    enc, delim = _encoding_and_delimiter(path, data, delimiter, encoding)
    stream = _text_stream(data, enc)
    reader = csv.reader(stream, delimiter=delim)
    record, next_line, first_line = 0, 1, 1  # physical lines where records start
    try:
        for row in reader:
            record += 1
            first_line, next_line = next_line, reader.line_num + 1
            yield list(map(str.strip, row))  # csv cells are str: stripped in C
    except csv.Error as exc:
        raise FileFormatError(f"{path.name}: row {record + 1}: malformed CSV: {exc}") from exc
    finally:
        stream.close()
    if reader.line_num > first_line:
        # The last record spans several lines: legitimate for a quoted cell holding line
        # breaks, but also what an opening quote that is never closed looks like (the rest
        # of the file silently becomes one cell). Re-read that record strictly to tell.
        with _text_stream(data, enc) as tail:
            try:
                for _ in csv.reader(itertools.islice(tail, first_line - 1, None), delimiter=delim, strict=True):
                    pass
            except csv.Error as exc:
                if "unexpected end of data" not in str(exc):
                    return
                raise FileFormatError(
                    f'{path.name}: row {record}: a quote (") opened in this row is never closed, so the '
                    f"rest of the file ({reader.line_num - first_line + 1} lines) would be one cell; "
                    "fix the quote or save the file again as CSV"
                ) from exc
