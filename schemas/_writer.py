"""An Avro binary writer compiled once per schema into Python source, for the publish path.

fastavro's ``schemaless_writer`` reaches about 50 000 DossierReceived events/s on one core here:
it re-dispatches on the schema for every value and tries each union branch in turn. This module
generates Python source per schema instead, compiles it once (``serde`` caches it per schema id)
and writes an event with straight-line code: field access inlined into locals, every piece of
output a local, one ``b"".join`` at the end. Lengths, small ints and enum indexes are one lookup
in a table of their zigzag varints; a timestamp is split at 2**28 using a per-UTC-day table, so
its arithmetic stays on small ints.

Two functions are generated per schema. ``_slow`` is exact: each fast path in it only *accepts*
a value whose type it knows exactly (``type(x) is str`` …); anything else — a subclass, a float
for a long, a tuple in a union, an ``array.array``, a big length — is written by fastavro's own
``write_data`` for that one value, and a union branch that is not obvious is chosen by fastavro's
own ``_validate`` in fastavro's order; so odd input gets fastavro's bytes, or fastavro's refusal,
by construction. ``encode`` is the same code with table subscripts in place of the checked
lookups; whenever it raises anything, the event is written again by ``_slow``, whose result or
exception is the answer. Every schema shape is handled: recursive records and parts nested too
deep for one Python function get generated functions of their own.

One deliberate difference from fastavro: a naive datetime for a ``timestamp-millis`` is refused
(``ValueError``), where fastavro would read it in the machine's local time zone.
"""

from __future__ import annotations

import array
import binascii
import itertools
import linecache
import math
import re
import struct
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from fastavro._logical_writers import LOGICAL_WRITERS

# fastavro's compiled internals (cpdef, so callable from Python; not in its type stubs): its
# encoder of one value, its union-branch test, and its type-name helper.
from fastavro._schema import extract_record_type  # type: ignore[attr-defined]
from fastavro._validation import _validate  # type: ignore[attr-defined]
from fastavro._write import write_data  # type: ignore[attr-defined]
from fastavro.const import NAMED_TYPES

__all__ = ["Encode", "compile_writer"]

#: ``encode(header, event)`` -> ``header`` followed by the Avro body of ``event``
Encode = Callable[[bytes, Any], bytes]

_OPTIONS: Final[dict[str, Any]] = {
    "strict": False,
    "strict_allow_default": False,
    "disable_tuple_notation": False,
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_LONG_MIN: Final = -(1 << 63)
_LONG_MAX: Final = (1 << 63) - 1
_INT_MIN: Final = -(1 << 31)
_INT_MAX: Final = (1 << 31) - 1
# Python refuses more than 20 nested blocks in one function and 100 indentation levels;
# deeper parts of a schema get a function of their own.
_MAX_INDENT: Final = 24
_MAX_LOOPS: Final = 8


def _uvarint_slow(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


#: unsigned varint of 0 .. 2**14-1
_RAW: Final = tuple(_uvarint_slow(n) for n in range(1 << 14))
#: 14 low bits as two varint bytes, both with the continuation bit
_CHUNK: Final = tuple(bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(1 << 14))
#: zigzag varint of 0 .. 2**15-1 (lengths, counts, enum indexes, small ints, dates up to 2059);
#: a dict so that ``get`` answers None for anything else instead of raising
_SMALL: Final[dict[int, bytes]] = {
    n: _RAW[2 * n] if 2 * n < len(_RAW) else _uvarint_slow(2 * n) for n in range(1 << 15)
}
#: the same as a tuple, for lengths (never negative): subscripting beats ``dict.get``
_LENGTH: Final = tuple(_SMALL.values())
_PREFIX_TABLE_SIZE: Final = 1 << 12
_TWO_DAYS_MS: Final = 2 * 86_400_000
_HIGH: Final = 1 << 28
_DAY_CACHE_SIZE: Final = 1 << 14
_uuid_groups: Final = struct.Struct("8s4s4s4s12s").unpack


class _Fallback(Exception):
    """The fast encoder met something it does not handle: the exact one takes over."""


#: UTC day (days since 1970-01-01, at least 2) -> twice its first millisecond split at 2**28:
#: (low 28 bits, varint of the high bits, varint of the high bits + 1)
_days: dict[int, tuple[int, bytes, bytes]] = {}


def _day(days: int) -> tuple[int, bytes, bytes]:
    if days < 2:
        raise _Fallback  # below 2**28 the split does not apply
    high, low = divmod(days * _TWO_DAYS_MS, _HIGH)
    if len(_days) >= _DAY_CACHE_SIZE:
        _days.clear()
    entry = _days[days] = (low, _uvarint(high), _uvarint(high + 1))
    return entry


_prefix_tables: dict[int, dict[int, bytes]] = {}


def _prefix_table(index: int) -> dict[int, bytes]:
    """Union branch ``index`` followed by a string length, for lengths below 4096."""
    table = _prefix_tables.get(index)
    if table is None:
        table = {n: _SMALL[index] + _SMALL[n] for n in range(_PREFIX_TABLE_SIZE)}
        _prefix_tables[index] = table
    return table


def _uvarint(n: int) -> bytes:
    parts = []
    while n >= 0x4000:
        parts.append(_CHUNK[n & 0x3FFF])
        n >>= 14
    parts.append(_RAW[n])
    return b"".join(parts)


def _exact_long(value: int) -> bytes:
    if _LONG_MIN <= value <= _LONG_MAX:
        return _uvarint((value << 1) ^ (value >> 63))
    raise OverflowError(f"{value} does not fit in a long")


_pack_double: Final = struct.Struct("<d").pack
_pack_float: Final = struct.Struct("<f").pack


def _float(value: Any) -> bytes:
    try:
        return _pack_float(value)
    except OverflowError:
        # fastavro casts the double to a C float: out of range becomes ±infinity.
        number = float(value)
        if math.isinf(number):
            raise
        return _pack_float(math.copysign(math.inf, number))


class _Runtime:
    """The helpers of one compiled schema that need its named types."""

    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = dict(named)

    def reference(self, value: Any, schema: Any) -> bytes:
        """fastavro's own encoding of one value."""
        buffer = bytearray()
        write_data(buffer, value, schema, self.named, "", _OPTIONS)
        return bytes(buffer)

    def long(self, value: Any) -> bytes:
        if type(value) is int:
            return _exact_long(value)
        return self.reference(value, "long")

    def timestamp_millis(self, value: Any, schema: Any) -> bytes:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: a timezone is required")
        return self.reference(value, schema)

    def valid(self, value: Any, schema: Any) -> bool:
        return not isinstance(value, tuple) and bool(
            _validate(value, schema, self.named, "", False, _OPTIONS)
        )

    def select(self, value: Any, union: list[Any]) -> tuple[int, Any]:
        """fastavro's choice of union branch (``write_union``): (index, value to write)."""
        if isinstance(value, tuple):
            name, value = value
            for index, candidate in enumerate(union):
                kind = extract_record_type(candidate)
                if name == (candidate["name"] if kind in NAMED_TYPES else kind):
                    return index, value
            raise ValueError(f"provided union type name {name} not found in schema {union}")
        best, most_fields, could_be_float = -1, -1, False
        for index, candidate in enumerate(union):
            if could_be_float:
                if extract_record_type(candidate) == "double":
                    best = index
                    break
                continue
            if not _validate(value, candidate, self.named, "", False, _OPTIONS):
                continue
            kind = extract_record_type(candidate)
            resolved = candidate
            if kind in self.named:
                resolved = self.named[kind]
                kind = extract_record_type(resolved)
            if kind == "record":
                logical = resolved.get("logicalType")
                prepare = LOGICAL_WRITERS.get(f"record-{logical}") if logical else None
                if prepare is not None:
                    value = prepare(value, resolved)
                fields = len({field["name"] for field in resolved["fields"]} & set(value))
                if fields > most_fields:
                    best, most_fields = index, fields
            elif kind == "float":
                best, could_be_float = index, True
            else:
                best = index
                break
        if best == -1:
            raise ValueError(f"{value!r} (type {type(value)}) do not match {union}")
        return best, value

    @staticmethod
    def as_record(value: Any, fields: tuple[tuple[str, bool, Any], ...]) -> dict[str, Any]:
        """A record that is not a dict, read the way fastavro reads it."""
        set(value)  # fastavro lists the keys first (to find extra ones)
        record = {}
        for name, defaultable, default in fields:
            if name not in value and not defaultable:
                raise ValueError(f"no value and no default for {name}")
            record[name] = value.get(name, default)
        return record

    @staticmethod
    def uuid_text(value: Any) -> bytes:
        if isinstance(value, UUID):
            value = str(value)
        data: bytes = value.encode()
        return data


_FIXED_GLOBALS: Final[Mapping[str, Any]] = {
    "_SMALL": _SMALL,
    "_LENGTH": _LENGTH,
    "_RAW": _RAW,
    "_CHUNK": _CHUNK,
    "_uvarint": _uvarint,
    "_pack_double": _pack_double,
    "_float": _float,
    "_datetime": datetime,
    "_date": date,
    "_UUID": UUID,
    "_pyarray": array.array,
    "_EPOCH": _EPOCH,
    "_MS": _MILLISECOND,
    "_Fallback": _Fallback,
    "_days": _days,
    "_day": _day,
    "_uuid_groups": _uuid_groups,
    "_hexlify": binascii.hexlify,
}

# fastavro type name of a schema with a logical type -> how it is written here
_SPECIALISED_LOGICAL: Final = frozenset({"long-timestamp-millis", "int-date", "string-uuid"})
_PRIMITIVE_NAMES: Final = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)


def compile_writer(schema: Mapping[str, Any], named: Mapping[str, Any]) -> Encode:
    """The encoder of fastavro-parsed ``schema`` (``named``: its ``__named_schemas``)."""
    return _Source(named).build(schema)


def _join(pieces: list[str]) -> str:
    return "".join(piece + ", " for piece in pieces)


class _Source:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.runtime = _Runtime(named)
        self.constants: dict[str, Any] = {}
        self.constant_names: dict[int, str] = {}
        self.functions: dict[int, str] = {}  # id of a schema node -> its function's name
        self.pending: list[tuple[str, Any]] = []
        self.counter = itertools.count()
        self.lines: list[str] = []
        self.stack: list[Any] = []  # records being written on the current path
        self.fast = False

    # -- plumbing ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def constant(self, value: Any, prefix: str = "_K") -> str:
        key = id(value)
        name = self.constant_names.get(key)
        if name is None or self.constants[name] is not value:
            name = self.fresh(prefix)
            self.constants[name] = value
            self.constant_names[key] = name
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def build(self, schema: Mapping[str, Any]) -> Encode:
        self.lines.append("def _slow(h, v):")
        self.emit(1, f"return b''.join((h, {_join(self.value(schema, 'v', 1, 0))}))")
        self.fast = True
        header = len(self.lines)
        self.lines.append("")
        self.emit(1, "try:")
        pieces = self.value(schema, "v", 2, 0)
        self.emit(2, f"return b''.join((h, {_join(pieces)}))")
        self.emit(1, "except Exception:")
        self.emit(2, "return _slow(h, v)")
        self.fast = False
        # Globals used in the fast function become keyword-only defaults: locals, a bit faster.
        used = set(re.findall(r"\b_[A-Za-z]\w*\b", "\n".join(self.lines[header:])))
        bound = sorted(used & (_FIXED_GLOBALS.keys() | self.constants.keys()))
        defaults = "".join(f", {name}={name}" for name in bound)
        self.lines[header] = f"def encode(h, v, *, len=len, type=type{defaults}):"
        while self.pending:
            name, node = self.pending.pop()
            self.lines.append(f"def {name}(v):")
            pieces = self.value(node, "v", 1, 0, standalone=True)
            self.emit(1, f"return b''.join(({_join(pieces)}))")
        text = "\n".join(self.lines) + "\n"
        filename = f"<avro writer {schema.get('name', '?')} {id(self):x}>"
        runtime = self.runtime
        namespace: dict[str, Any] = {
            **_FIXED_GLOBALS,
            **self.constants,
            "_ref": runtime.reference,
            "_long": runtime.long,
            "_ts": runtime.timestamp_millis,
            "_valid": runtime.valid,
            "_select": runtime.select,
            "_as_record": runtime.as_record,
            "_uuid_text": runtime.uuid_text,
        }
        exec(compile(text, filename, "exec"), namespace)
        # Tracebacks through the generated code then show its source lines.
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        encode: Encode = namespace["encode"]
        return encode

    def resolve(self, schema: Any) -> Any:
        while isinstance(schema, str) and schema not in _PRIMITIVE_NAMES:
            schema = self.named[schema]
        return schema

    def function_for(self, schema: Any) -> str:
        key = id(schema)
        name = self.functions.get(key)
        if name is None:
            self.constant(schema)  # keep the node alive so its id stays unique
            name = self.fresh("_w")
            self.functions[key] = name
            self.pending.append((name, schema))
        return name

    def fallback_unless(self, ind: int, test: str) -> None:
        self.emit(ind, f"if not ({test}):")
        self.emit(ind + 1, "raise _Fallback")

    def length(self, b: str) -> str:
        if self.fast:
            return f"_LENGTH[len({b})]"
        return f"(_SMALL.get(len({b})) or _long(len({b})))"

    # -- values -----------------------------------------------------------------------------

    def value(
        self, schema: Any, v: str, ind: int, loops: int, *, standalone: bool = False
    ) -> list[str]:
        """Emit code writing local ``v``; return the expressions of its pieces, in order."""
        schema = self.resolve(schema)
        if isinstance(schema, str):
            return self.primitive(schema, v, ind)
        if isinstance(schema, list):
            if not standalone and ind > _MAX_INDENT:
                return [f"{self.function_for(schema)}({v})"]
            return self.union(schema, v, ind, loops)
        kind = schema["type"]
        if not isinstance(kind, str) or (kind not in _PRIMITIVE_NAMES and kind in self.named):
            return self.value(kind, v, ind, loops)
        logical = schema.get("logicalType")
        if logical is not None:
            key = f"{kind}-{logical}"
            if key in _SPECIALISED_LOGICAL:
                return self.logical(key, schema, v, ind)
            if key in LOGICAL_WRITERS:
                return [f"_ref({v}, {self.constant(schema)})"]
        if kind in _PRIMITIVE_NAMES:
            return self.primitive(kind, v, ind)
        if kind == "enum":
            return self.enum(schema, v)
        if kind == "fixed":
            test = f"type({v}) is bytes and len({v}) == {int(schema['size'])}"
            if self.fast:
                self.fallback_unless(ind, test)
                return [v]
            p = self.fresh("p")
            self.emit(ind, f"if {test}:")
            self.emit(ind + 1, f"{p} = {v}")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"{p} = _ref({v}, {self.constant(schema)})")
            return [p]
        if kind in ("record", "error"):
            if not standalone and (ind > _MAX_INDENT or self.on_stack(schema)):
                return [f"{self.function_for(schema)}({v})"]
            self.stack.append(schema)
            try:
                return self.record(schema, v, ind, loops)
            finally:
                self.stack.pop()
        if kind in ("array", "map"):
            if not standalone and (loops >= _MAX_LOOPS or ind > _MAX_INDENT):
                return [f"{self.function_for(schema)}({v})"]
            if kind == "array":
                return self.array(schema, v, ind, loops)
            return self.map(schema, v, ind, loops)
        # Anything else (an unknown type name …): fastavro decides, and raises.
        return [f"_ref({v}, {self.constant(schema)})"]

    def on_stack(self, schema: Any) -> bool:
        return any(entry is schema for entry in self.stack)

    def primitive(self, kind: str, v: str, ind: int) -> list[str]:
        if kind == "null":
            return []  # fastavro writes nothing, whatever the value
        if kind == "boolean":
            return [f"(b'\\x01' if {v} else b'\\x00')"]
        if kind in ("int", "long"):
            # A bool, or a float equal to a small int, finds the bytes fastavro writes for it;
            # amounts of money are often beyond the table.
            return [f"(_SMALL.get({v}) or _long({v}))"]
        if kind == "string":
            b = self.fresh("b")
            self.emit(ind, f"{b} = {v}.encode()")  # what fastavro calls, whatever the type
            return [self.length(b), b]
        if kind == "bytes":
            if self.fast:
                self.fallback_unless(ind, f"type({v}) is bytes")
                return [self.length(v), v]
            p, b = self.fresh("p"), self.fresh("b")
            self.emit(ind, f"if type({v}) is bytes:")
            self.emit(ind + 1, f"{p} = {self.length(v)}")
            self.emit(ind + 1, f"{b} = {v}")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"{p} = _ref({v}, 'bytes')")
            self.emit(ind + 1, f"{b} = b''")
            return [p, b]
        if kind == "double":
            return [f"_pack_double({v})"]
        if kind == "float":
            return [f"_float({v})"]
        raise AssertionError(kind)

    def logical(self, key: str, schema: Any, v: str, ind: int) -> list[str]:
        if key == "long-timestamp-millis":
            return self.timestamp_millis(schema, v, ind)
        if key == "int-date":
            if self.fast:
                self.fallback_unless(ind, f"type({v}) is _date")
                return [f"_SMALL[{v}.toordinal() - {_EPOCH_ORDINAL}]"]
            p, d = self.fresh("p"), self.fresh("d")
            self.emit(ind, f"if type({v}) is _date:")
            self.emit(ind + 1, f"{d} = {v}.toordinal() - {_EPOCH_ORDINAL}")
            self.emit(ind + 1, f"{p} = _SMALL.get({d}) or _long({d})")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"{p} = _ref({v}, {self.constant(schema)})")
            return [p]
        if key == "string-uuid":
            b = self.fresh("b")
            self.emit(ind, f"if type({v}) is _UUID:")
            self.emit(ind + 1, f"{b} = b'-'.join(_uuid_groups(_hexlify({v}.int.to_bytes(16))))")
            self.emit(ind, f"elif type({v}) is str:")
            self.emit(ind + 1, f"{b} = {v}.encode()")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"{b} = _uuid_text({v})")
            return [self.length(b), b]
        raise AssertionError(key)

    def timestamp_millis(self, schema: Any, v: str, ind: int) -> list[str]:
        if self.fast:
            # twice the milliseconds (the zigzag of a positive long) = high * 2**28 + low
            d, low, high, carry = (self.fresh(x) for x in ("d", "lo", "hi", "c"))
            self.fallback_unless(ind, f"type({v}) is _datetime")
            self.emit(ind, f"{d} = {v} - _EPOCH")  # a naive datetime raises here
            self.emit(ind, f"{low}, {high}, {carry} = _days.get({d}.days) or _day({d}.days)")
            self.emit(ind, f"{low} += ({d}.seconds * 1000 + {d}.microseconds // 1000) << 1")
            self.emit(ind, f"if {low} >= 0x10000000:")
            self.emit(ind + 1, f"{low} -= 0x10000000")
            self.emit(ind + 1, f"{high} = {carry}")
            return [f"_CHUNK[{low} & 0x3FFF]", f"_CHUNK[{low} >> 14]", high]
        p, z = self.fresh("p"), self.fresh("z")
        self.emit(ind, f"if type({v}) is _datetime and {v}.tzinfo is not None:")
        self.emit(ind + 1, f"{z} = ({v} - _EPOCH) // _MS")
        self.emit(ind + 1, f"{p} = _uvarint(({z} << 1) ^ ({z} >> 63))")
        self.emit(ind, "else:")
        self.emit(ind + 1, f"{p} = _ts({v}, {self.constant(schema)})")
        return [p]

    def enum(self, schema: Any, v: str) -> list[str]:
        table = self.constant(
            {symbol: _SMALL[i] for i, symbol in enumerate(schema["symbols"])}, "_E"
        )
        if self.fast:
            return [f"{table}[{v}]"]
        return [f"({table}.get({v}) or _ref({v}, {self.constant(schema)}))"]

    def record(self, schema: Any, v: str, ind: int, loops: int) -> list[str]:
        fields = schema["fields"]
        spec = tuple(
            (f["name"], "default" in f or "null" in f["type"], f.get("default")) for f in fields
        )
        if self.fast:
            self.fallback_unless(ind, f"type({v}) is dict")
        else:
            self.emit(ind, f"if type({v}) is not dict:")
            self.emit(ind + 1, f"{v} = _as_record({v}, {self.constant(spec)})")
        pieces: list[str] = []
        for field, (name, defaultable, default) in zip(fields, spec, strict=True):
            field_type = field["type"]
            if isinstance(field_type, str) and field_type == "null":
                continue
            x = self.fresh("x")
            if not defaultable:
                self.emit(ind, f"{x} = {v}[{name!r}]")
            elif default is None:
                self.emit(ind, f"{x} = {v}.get({name!r})")
            else:
                self.emit(ind, f"{x} = {v}.get({name!r}, {self.constant(default)})")
            if isinstance(field_type, str) and field_type in {"float", "double"}:
                self.emit(ind, f"{x} = float({x})")  # as fastavro: "NaN" is a double
            pieces += self.value(field_type, x, ind, loops)
        return pieces

    def array(self, schema: Any, v: str, ind: int, loops: int) -> list[str]:
        p, lst, item = self.fresh("p"), self.fresh("l"), self.fresh("i")
        if self.fast:
            self.fallback_unless(ind, f"type({v}) is list")
            body = ind
        else:
            self.emit(ind, f"if isinstance({v}, _pyarray):")
            self.emit(ind + 1, f"{p} = _ref({v}, {self.constant(schema)})")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"if not isinstance({v}, list):")
            self.emit(ind + 2, f"{v} = list({v})")
            body = ind + 1
        self.emit(body, f"if {v}:")
        self.emit(body + 1, f"{lst} = [{self.length(v)}]")
        self.emit(body + 1, f"for {item} in {v}:")
        pieces = self.value(schema["items"], item, body + 2, loops + 1)
        self.extend(lst, pieces, body + 2)
        self.emit(body + 1, f"{lst}.append(b'\\x00')")
        self.emit(body + 1, f"{p} = b''.join({lst})")
        self.emit(body, "else:")
        self.emit(body + 1, f"{p} = b'\\x00'")
        return [p]

    def map(self, schema: Any, v: str, ind: int, loops: int) -> list[str]:
        p, lst, key, item = self.fresh("p"), self.fresh("l"), self.fresh("k"), self.fresh("i")
        if self.fast:
            self.fallback_unless(ind, f"type({v}) is dict")
        self.emit(ind, f"if len({v}):")
        self.emit(ind + 1, f"{lst} = [{self.length(v)}]")
        self.emit(ind + 1, f"for {key}, {item} in {v}.items():")
        pieces = self.primitive("string", key, ind + 2)
        pieces += self.value(schema["values"], item, ind + 2, loops + 1)
        self.extend(lst, pieces, ind + 2)
        self.emit(ind + 1, f"{lst}.append(b'\\x00')")
        self.emit(ind + 1, f"{p} = b''.join({lst})")
        self.emit(ind, "else:")
        self.emit(ind + 1, f"{p} = b'\\x00'")
        return [p]

    def extend(self, lst: str, pieces: list[str], ind: int) -> None:
        if len(pieces) == 1:
            self.emit(ind, f"{lst}.append({pieces[0]})")
        elif pieces:
            self.emit(ind, f"{lst} += ({_join(pieces)})")

    def union(self, branches: list[Any], v: str, ind: int, loops: int) -> list[str]:
        t, b = self.fresh("t"), self.fresh("b")
        nulls = [i for i, branch in enumerate(branches) if branch == "null"]
        others = [i for i, branch in enumerate(branches) if branch != "null"]
        test = None
        if len(branches) == 2 and len(nulls) == 1:
            test = self.fast_test(branches[others[0]], v)
        if test is not None:
            self.emit(ind, f"if {v} is None:")
            self.branch(branches[nulls[0]], nulls[0], v, t=t, b=b, ind=ind + 1, loops=loops)
            self.emit(ind, f"elif {test}:")
            self.branch(branches[others[0]], others[0], v, t=t, b=b, ind=ind + 1, loops=loops)
            self.emit(ind, "else:")
            if self.fast:
                self.emit(ind + 1, "raise _Fallback")
                return [t, b]
            ind += 1
        elif self.fast and len(branches) > 1:
            self.emit(ind, "raise _Fallback")  # unreachable code after this is harmless
        w, i = self.fresh("w"), self.fresh("n")
        self.emit(ind, f"{i}, {w} = _select({v}, {self.constant(branches)})")
        for position, branch in enumerate(branches):
            if position == len(branches) - 1:
                self.emit(ind, "else:" if position else "if True:")
            else:
                self.emit(ind, f"{'elif' if position else 'if'} {i} == {position}:")
            self.branch(branch, position, w, t=t, b=b, ind=ind + 1, loops=loops)
        return [t, b]

    def branch(
        self, schema: Any, index: int, v: str, *, t: str, b: str, ind: int, loops: int
    ) -> None:
        """Set ``t`` (branch index, maybe more) and ``b`` (the rest) for one union branch."""
        prefix = repr(_SMALL[index])
        if self.resolve(schema) == "string":
            table = self.constant(_prefix_table(index), "_O")
            self.emit(ind, f"{b} = {v}.encode()")
            if self.fast:
                self.emit(ind, f"{t} = {table}[len({b})]")
            else:
                self.emit(ind, f"{t} = {table}.get(len({b})) or {prefix} + _long(len({b}))")
            return
        pieces = self.value(schema, v, ind, loops)
        self.emit(ind, f"{t} = {prefix}")
        if not pieces:
            self.emit(ind, f"{b} = b''")
        elif len(pieces) == 1:
            self.emit(ind, f"{b} = {pieces[0]}")
        else:
            self.emit(ind, f"{b} = b''.join(({_join(pieces)}))")

    def fast_test(self, schema: Any, v: str) -> str | None:
        """A test implying fastavro picks this branch of a null|X union, or None."""
        resolved = self.resolve(schema)
        if isinstance(resolved, list):
            return None
        if isinstance(resolved, str):
            kind, logical = resolved, None
        else:
            kind, logical = resolved["type"], resolved.get("logicalType")
            if not isinstance(kind, str):
                return None
        key = f"{kind}-{logical}" if logical is not None else kind
        tests = {
            "string": f"type({v}) is str",
            "string-uuid": f"(type({v}) is str or type({v}) is _UUID)",
            "int": f"(type({v}) is int and {_INT_MIN} <= {v} <= {_INT_MAX})",
            "long": f"(type({v}) is int and {_LONG_MIN} <= {v} <= {_LONG_MAX})",
            "boolean": f"({v} is True or {v} is False)",
            "double": f"type({v}) is float",
            "float": f"type({v}) is float",
            "bytes": f"type({v}) is bytes",
            "long-timestamp-millis": f"type({v}) is _datetime",
            "int-date": f"type({v}) is _date",
        }
        if key in tests:
            return tests[key]
        if logical is not None and key in LOGICAL_WRITERS:
            return None
        if kind == "enum":
            table = {symbol: _SMALL[i] for i, symbol in enumerate(resolved["symbols"])}
            return f"{v} in {self.constant(table, '_E')}"
        if kind in ("record", "error", "map"):
            return f"(type({v}) is dict and _valid({v}, {self.constant(resolved)}))"
        if kind == "array":
            return f"(type({v}) is list and _valid({v}, {self.constant(resolved)}))"
        if kind == "fixed":
            return f"(type({v}) is bytes and len({v}) == {int(resolved['size'])})"
        return None
