"""SQL text for the device's sqlite3 shell: literals quoted correctly, and output parsed back.

Used where no parameter binding exists (the remote ``sqlite3`` CLI): every value goes through
``literal()``; ``parse_quoted()`` reads rows written with ``quote()`` (or ``.mode quote``)."""
from __future__ import annotations

import math
from typing import Iterable, Iterator, List, Sequence


def literal(value: object) -> str:
    """A value as an SQL literal: strings single-quoted with ' doubled, None -> NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be stored in SQLite")
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a text value with a NUL character cannot pass through the sqlite3 shell")
        if "\r" in value:  # the shell folds CR LF in its input: pass such text as its UTF-8 bytes
            return "CAST(X'" + value.encode("utf-8").hex() + "' AS TEXT)"
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"{type(value).__name__} values cannot be written to SQLite")


def bind(sql: str, params: Sequence[object]) -> str:
    """Replace each ``?`` outside quotes with the literal of the next parameter."""
    out: List[str] = []
    values = iter(params)
    quote = None
    for char in sql:
        if quote:
            out.append(char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            try:
                out.append(literal(next(values)))
            except StopIteration:
                raise ValueError("fewer parameters than placeholders") from None
        else:
            out.append(char)
    if next(values, _END) is not _END:
        raise ValueError("more parameters than placeholders")
    return "".join(out)


_END = object()


def insert_values(table: str, columns: Sequence[str], rows: Iterable[tuple], per_statement: int = 200) -> Iterator[str]:
    """Multi-row INSERT statements with literal values."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    batch: List[str] = []
    for row in rows:
        batch.append("(" + ",".join(literal(v) for v in row) + ")")
        if len(batch) >= per_statement:
            yield head + ",\n".join(batch) + ";\n"
            batch = []
    if batch:
        yield head + ",\n".join(batch) + ";\n"


def parse_quoted(text: str) -> List[tuple]:
    """Rows of comma-separated SQL literals, one row per line (newlines inside strings kept)."""
    rows: List[tuple] = []
    row: List[object] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "'":
            j = i + 1
            parts = []
            while True:
                k = text.index("'", j)
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            row.append("".join(parts))
        elif char in ",":
            i += 1
            continue
        elif char == "\n":
            rows.append(tuple(row))
            row = []
            i += 1
            continue
        elif char == "\r":
            i += 1
            continue
        else:
            j = i
            while j < n and text[j] not in ",\n\r":
                j += 1
            token = text[i:j]
            i = j
            row.append(_atom(token))
    if row:
        rows.append(tuple(row))
    return rows


def _atom(token: str) -> object:
    if token == "NULL":
        return None
    if token[:2] in ("X'", "x'"):
        return bytes.fromhex(token[2:-1])
    try:
        return int(token)
    except ValueError:
        return float(token)
