"""A validator compiled once per schema into Python source, for the publish path.

The generic walker in ``validation.py`` re-dispatches on the schema for every value and builds
every dotted path eagerly; it manages about 30 000 DossierReceived events/s on one core. The
compiled checker is one straight-line function per event type: exact-type tests, one C call
fetching all fields of a record, the quick format checks of ``_formats``, and paths built only
when something fails. With it, ``validate_event`` passes about 270 000 DossierReceived/s on the
development machine (the slowest type; the median over all types is about 500 000/s).

It never decides a failure itself. Each fast test only ever *accepts*: a value it does not
accept, together with its whole subtree, goes to the reference walker (``check_value`` /
``check_strings``), which either accepts it after all (a ``str`` subclass, a ``Mapping`` that is
not a ``dict`` …), appends the warning, or raises the exact ``ValidationError``. A subtree is
handed over before the compiled code has touched anything inside it, so the reference sees the
same values in the same order and the result — first error, warnings and their order — is the
reference's by construction. Shapes without a fast test (unions of several types, recursive
records, maps, fixed …) are simply always handed over.
"""

from __future__ import annotations

import itertools
import linecache
import operator
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Final, Generic, TypeVar

from ._formats import field_checks, quick_check
from ._walk import PRIMITIVES

__all__ = ["Check", "compile_checker"]

W = TypeVar("W")

#: validates an event, appending tolerated deviations to the list; raises on the first failure
Check = Callable[[Any, list[W]], None]
#: the reference check of one value: (value, schema, dotted path, warnings)
CheckValue = Callable[[Any, Any, str, list[W]], None]
#: the reference string rules of one record field: (field, dotted path, value, warnings)
CheckStrings = Callable[[Mapping[str, Any], str, str, list[W]], None]

_UUID_TEXT: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Python refuses more than 20 nested loops and 100 indentation levels in one function; deeper
# parts of a schema go to the reference walker instead.
_MAX_DEPTH: Final = 40
_MAX_LOOPS: Final = 10

# The fast test of each primitive, as a template over the variable name. Every one implies the
# reference's test in validation._primitive; exact types keep the common case cheap.
_PRIMITIVE_TESTS: Final[Mapping[str, str]] = {
    "string": "type({v}) is str",
    "boolean": "({v} is True or {v} is False)",
    "int": "(type({v}) is int and -2147483648 <= {v} <= 2147483647)",
    "long": "(type({v}) is int and -9223372036854775808 <= {v} <= 9223372036854775807)",
    "float": "(type({v}) is float or type({v}) is int)",
    "double": "(type({v}) is float or type({v}) is int)",
    "bytes": "type({v}) is bytes",
}
_LOGICAL_TESTS: Final[Mapping[str, str]] = {
    # A datetime.timezone (it cannot be subclassed) always has an offset; any other tzinfo is
    # asked, like the reference does.
    "timestamp-millis": (
        "(type({v}) is _datetime and type({v}.tzinfo) is _timezone"
        " or isinstance({v}, _datetime) and {v}.utcoffset() is not None)"
    ),
    "date": "type({v}) is _date",
    # Only the canonical lowercase spelling, like validation._uuid.
    "uuid": "(isinstance({v}, _UUID) or (type({v}) is str and _uuid_text({v}) is not None))",
}
_NEVER: Final = "False"


def compile_checker(
    name: str,
    schema: Mapping[str, Any],
    named: Mapping[str, Any],
    check_value: CheckValue[W],
    check_strings: CheckStrings[W],
) -> Check[W]:
    """The checker of record ``schema`` (fastavro-parsed; ``named`` its named types)."""
    source = _Source(named)
    source.function(schema)
    return source.build(name, _Delegates(check_value, check_strings))


@dataclass(frozen=True, slots=True)
class _Delegates(Generic[W]):
    value: CheckValue[W]
    strings: CheckStrings[W]

    def check_field(
        self, spec: Mapping[str, Any], path: str, value: Any, warnings: list[W]
    ) -> None:
        # The reference's handling of one record field: its type, then its string rules.
        self.value(value, spec["type"], path, warnings)
        if isinstance(value, str):
            self.strings(spec, path, value, warnings)


@dataclass(frozen=True, slots=True)
class _Path:
    """A dotted path as it will be built at run time: literal parts and index variables."""

    parts: tuple[tuple[bool, str], ...] = ()  # (is a variable, text)

    def child(self, name: str) -> _Path:
        return _Path((*self.parts, (False, f".{name}" if self.parts else name)))

    def item(self, index: str) -> _Path:
        return _Path((*self.parts, (False, "["), (True, index), (False, "]")))

    def expression(self) -> str:
        """Python source building the path, the way validation._Walker spells it."""
        terms: list[str] = []
        literal = ""
        for is_variable, text in self.parts:
            if not is_variable:
                literal += text
                continue
            if literal:
                terms.append(repr(literal))
                literal = ""
            terms.append(f"str({text})")
        if literal or not terms:
            terms.append(repr(literal))
        return " + ".join(terms)


@dataclass
class _Source:
    named: Mapping[str, Any]
    lines: list[str] = field(default_factory=list)
    constants: dict[str, object] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def function(self, schema: Mapping[str, Any]) -> None:
        self.emit(0, "def check(v, w):")
        self.value(schema, "v", _Path(), _Scope(depth=1))

    def build(self, name: str, delegates: _Delegates[W]) -> Check[W]:
        filename = f"<validator {name}>"
        text = "\n".join(self.lines) + "\n"
        namespace: dict[str, Any] = {
            "__builtins__": __builtins__,
            "_value": delegates.value,
            "_strings": delegates.strings,
            "_field": delegates.check_field,
            "_MISSING": _MISSING,
            "_SEQUENCE": (list, tuple),
            "_datetime": datetime,
            "_timezone": timezone,
            "_date": date,
            "_UUID": uuid.UUID,
            "_uuid_text": _uuid_fullmatch,
            **self.constants,
        }
        exec(compile(text, filename, "exec"), namespace)
        # Tracebacks through the generated code then show its source lines.
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        check: Check[W] = namespace["check"]
        return check

    # ------------------------------------------------------------------ emitting

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def constant(self, value: object, prefix: str) -> str:
        name = f"_{prefix}{next(self._ids)}"
        self.constants[name] = value
        return name

    def variable(self, prefix: str = "v") -> str:
        return f"{prefix}{next(self._ids)}"

    def hand_over(self, depth: int, var: str, schema: Any, path: _Path) -> None:
        self.emit(depth, f"_value({var}, {self.constant(schema, 's')}, {path.expression()}, w)")

    # ------------------------------------------------------------------ values

    def value(self, schema: Any, var: str, path: _Path, scope: _Scope) -> None:
        """Statements that accept ``var`` or hand it over to the reference."""
        resolved = self.resolve(schema)
        test = self.test(resolved, var)
        if test is not None:
            self.emit(scope.depth, f"if not ({test}):")
            self.hand_over(scope.depth + 1, var, schema, path)
        elif scope.too_deep() or _record_name(resolved) in scope.records:
            self.hand_over(scope.depth, var, schema, path)
        elif isinstance(resolved, list):
            self.nullable(resolved, var, path, scope)
        elif resolved["type"] == "record":
            self.record(resolved, var, path, scope)
        else:
            self.array(resolved, var, path, scope)

    def resolve(self, schema: Any) -> Any:
        """A named type's definition; ``None`` for a name the reference could not resolve."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return self.named.get(schema)
        return schema

    def test(self, schema: Any, var: str) -> str | None:
        """An expression accepting ``var``; None when the schema is a record or array to
        inline, or a union of null and one of them."""
        if isinstance(schema, str):
            return self.primitive(schema, var)
        if isinstance(schema, list):
            return self.union_test(schema, var)
        if not isinstance(schema, Mapping) or "type" not in schema:
            return _NEVER
        logical = schema.get("logicalType")
        if isinstance(logical, str) and logical in _LOGICAL_TESTS:
            return _LOGICAL_TESTS[logical].format(v=var)
        kind = schema["type"]
        if kind == "record":
            return None if isinstance(schema.get("fields"), list) else _NEVER
        if kind == "array":
            return None if "items" in schema else _NEVER
        if kind == "enum" and isinstance(schema.get("symbols"), list):
            symbols = self.constant(frozenset(schema["symbols"]), "symbols")
            return f"(type({var}) is str and {var} in {symbols})"
        # The long form {"type": "null"} refuses null too: the reference compares with "null".
        return _PRIMITIVE_TESTS.get(kind, _NEVER).format(v=var) if kind != "null" else _NEVER

    def primitive(self, kind: str, var: str) -> str:
        if kind == "null":
            return f"{var} is None"
        return _PRIMITIVE_TESTS[kind].format(v=var)

    def union_test(self, union: list[Any], var: str) -> str | None:
        branch = _single_branch(union)
        if branch is None:
            # Several types: the reference tries them in order; leave it to do so.
            return f"{var} is None" if "null" in union else _NEVER
        resolved = self.resolve(branch)
        if isinstance(resolved, list):
            return _NEVER
        inner = self.test(resolved, var)
        if inner is None:
            return None
        return f"({var} is None or {inner})" if "null" in union else inner

    def nullable(self, union: list[Any], var: str, path: _Path, scope: _Scope) -> None:
        # A union of a record or array with (at most) null, the only unions left here.
        branch = _single_branch(union)
        if "null" not in union:
            self.value(branch, var, path, scope)
            return
        self.emit(scope.depth, f"if {var} is not None:")
        self.value(branch, var, path, scope.inner())

    def record(self, schema: Mapping[str, Any], var: str, path: _Path, scope: _Scope) -> None:
        fields: list[Mapping[str, Any]] = schema["fields"]
        values = [self.variable() for _ in fields]
        ok = self.variable("ok")
        self.fetch_all(fields, values, var, ok, scope.depth)
        self.fetch_some(fields, values, var, ok, scope.depth)
        self.emit(scope.depth, f"if {ok}:")
        inner = scope.inner(record=schema["name"])
        for spec, value in zip(fields, values, strict=True):
            self.field(spec, value, path.child(spec["name"]), inner)
        if not fields:
            self.emit(inner.depth, "pass")
        self.emit(scope.depth, "else:")
        self.hand_over(scope.depth + 1, var, schema, path)

    def fetch_all(
        self, fields: list[Mapping[str, Any]], values: list[str], var: str, ok: str, depth: int
    ) -> None:
        # The usual case, every field present: as many keys as fields and one C call fetching
        # them all prove there is neither a missing nor an unknown field.
        names = [spec["name"] for spec in fields]
        if len(set(names)) != len(names):
            # A repeated name would let an unknown key make up the count.
            self.emit(depth, f"{ok} = False")
            return
        self.emit(depth, f"{ok} = type({var}) is dict and len({var}) == {len(fields)}")
        if not fields:
            return
        getter = self.constant(operator.itemgetter(*names), "get")
        self.emit(depth, f"if {ok}:")
        self.emit(depth + 1, "try:")
        self.emit(depth + 2, f"{', '.join(values)} = {getter}({var})")
        self.emit(depth + 1, "except KeyError:")
        self.emit(depth + 2, f"{ok} = False")

    def fetch_some(
        self, fields: list[Mapping[str, Any]], values: list[str], var: str, ok: str, depth: int
    ) -> None:
        # Fields with a default may be left out; a left-out one is _MISSING and not checked.
        known = self.constant(frozenset(spec["name"] for spec in fields), "fields")
        test = f"type({var}) is dict and {var}.keys() <= {known}"
        required = frozenset(spec["name"] for spec in fields if "default" not in spec)
        if required:
            test += f" and {var}.keys() >= {self.constant(required, 'required')}"
        self.emit(depth, f"if not {ok} and {test}:")
        for spec, value in zip(fields, values, strict=True):
            name = spec["name"]
            fetch = f".get({name!r}, _MISSING)" if "default" in spec else f"[{name!r}]"
            self.emit(depth + 1, f"{value} = {var}{fetch}")
        self.emit(depth + 1, f"{ok} = True")

    def array(self, schema: Mapping[str, Any], var: str, path: _Path, scope: _Scope) -> None:
        index, item = self.variable("i"), self.variable()
        self.emit(scope.depth, f"if isinstance({var}, _SEQUENCE):")
        self.emit(scope.depth + 1, f"for {index}, {item} in enumerate({var}):")
        self.value(schema["items"], item, path.item(index), scope.inner(loop=True).inner())
        self.emit(scope.depth, "else:")
        self.hand_over(scope.depth + 1, var, schema, path)

    # ------------------------------------------------------------------ record fields

    def field(self, spec: Mapping[str, Any], var: str, path: _Path, scope: _Scope) -> None:
        if "default" in spec:
            self.emit(scope.depth, f"if {var} is not _MISSING:")
            scope = scope.inner()
        fmt, pseudonymized = field_checks(spec)
        if fmt is None and not pseudonymized:
            self.value(spec["type"], var, path, scope)
            return
        quick = quick_check(fmt, pseudonymized)
        rule_test = _NEVER if quick is None else f"{self.constant(quick, 'rule')}({var})"
        if _string_field(spec["type"]):
            self.string_field(spec, var, path, scope, rule_test)
            return
        self.value(spec["type"], var, path, scope)
        self.emit(
            scope.depth, f"if isinstance({var}, str) and not (type({var}) is str and {rule_test}):"
        )
        self.strings(scope.depth + 1, spec, var, path)

    def string_field(
        self, spec: Mapping[str, Any], var: str, path: _Path, scope: _Scope, rule_test: str
    ) -> None:
        # The usual formatted field: one type test decides both the type and the rule check.
        self.emit(scope.depth, f"if type({var}) is str:")
        self.emit(scope.depth + 1, f"if not ({rule_test}):")
        self.strings(scope.depth + 2, spec, var, path)
        nullable = isinstance(spec["type"], list) and "null" in spec["type"]
        self.emit(scope.depth, f"elif {var} is not None:" if nullable else "else:")
        field_constant = self.constant(spec, "field")
        self.emit(scope.depth + 1, f"_field({field_constant}, {path.expression()}, {var}, w)")

    def strings(self, depth: int, spec: Mapping[str, Any], var: str, path: _Path) -> None:
        field_constant = self.constant(spec, "field")
        self.emit(depth, f"_strings({field_constant}, {path.expression()}, {var}, w)")


@dataclass(frozen=True, slots=True)
class _Scope:
    depth: int
    loops: int = 0
    #: records being inlined around this point; meeting one again means a recursive type
    records: frozenset[str] = frozenset()

    def inner(self, *, loop: bool = False, record: str | None = None) -> _Scope:
        records = self.records if record is None else self.records | {record}
        return _Scope(self.depth + 1, self.loops + loop, records)

    def too_deep(self) -> bool:
        return self.depth > _MAX_DEPTH or self.loops >= _MAX_LOOPS


_MISSING: Final = object()
_uuid_fullmatch: Final = re.compile(_UUID_TEXT).fullmatch


def _record_name(schema: Any) -> str | None:
    if isinstance(schema, Mapping) and schema.get("type") == "record":
        name = schema.get("name")
        return name if isinstance(name, str) else None
    return None


def _single_branch(union: list[Any]) -> Any:
    branches = [branch for branch in union if branch != "null"]
    return branches[0] if len(branches) == 1 else None


def _string_field(schema: Any) -> bool:
    """``string`` or ``[null, string]``: a field where exact ``str`` is all the type asks."""
    if schema == "string":
        return True
    return isinstance(schema, list) and [b for b in schema if b != "null"] == ["string"]
