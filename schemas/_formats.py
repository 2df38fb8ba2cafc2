"""String formats named by the ``format`` and ``pii`` attributes of the .avsc fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from dossierhub.errors import ValidationError

# [0-9], not \d: \d would also accept Arabic-Indic and other Unicode digits.
PROCEDURE_CODE: Final = re.compile(r"[0-9]\.[0-9]{6}")
AGENCY_CODE: Final = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}")
DOSSIER_CODE_TT01: Final = re.compile(
    r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}"
)
# GSO codes: 2 digits for a province, 3 for a district, 5 for a commune-level unit.
ADMIN_UNIT_CODE: Final = re.compile(r"[0-9]{2}|[0-9]{3}|[0-9]{5}")
HMAC_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _pattern(regex: re.Pattern[str], example: str) -> tuple[re.Pattern[str], str]:
    return regex, f"does not match {regex.pattern} (e.g. {example})"


_ERRORS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    "procedure_code": _pattern(PROCEDURE_CODE, "1.001193"),
    "agency_code": _pattern(AGENCY_CODE, "000.00.15.H29"),
    "admin_unit_code": _pattern(ADMIN_UNIT_CODE, "79, 760, 26734"),
}


def check_format(fmt: str, path: str, value: str) -> str | None:
    """Raise on a value that breaks ``fmt``; return a warning text for a tolerated deviation."""
    if fmt in _ERRORS:
        regex, problem = _ERRORS[fmt]
        if not regex.fullmatch(value):
            raise ValidationError(path, value, problem)
        return None
    if fmt in ("non_empty", "dossier_code"):
        if not value.strip():
            raise ValidationError(path, value, "must not be empty")
        # A control character (NUL, a newline…) in a key or code splits or hides its history.
        if not value.isprintable():
            raise ValidationError(path, value, "contains a control or invisible character")
        # A key with stray whitespace would split one entity's history over two keys.
        if value != value.strip():
            raise ValidationError(path, value, "has leading or trailing whitespace")
        if fmt == "dossier_code" and not DOSSIER_CODE_TT01.fullmatch(value):
            return "does not follow the Circular 01/2018 shape V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX"
        return None
    raise ValidationError(path, value, f"schema names an unknown format {fmt!r}")


# ---------------------------------------------------------------------------- quick checks
#
# The compiled validator (_validator.py) first asks a quick check, true only when the field's
# string rules would pass without a warning; any other value goes to the functions above, which
# alone word errors and warnings. A regex call costs ~200 ns even for a 13-character code, most of
# it fixed overhead, so fixed-width codes are checked by mapping every character to its class in
# one C pass instead, and codes drawn from a small set of real values are remembered.


def _classes(*groups: tuple[str, bytes]) -> bytes:
    """A translation table: each member byte to its class character, every other byte to NUL."""
    table = bytearray(256)
    for character, members in groups:
        for member in members:
            table[member] = ord(character)
    return bytes(table)


# '9' a digit 0-9, 'A' a capital A-Z, 'x' a lowercase hex digit; '.' and '-' stand for
# themselves. Shapes never contain NUL, so nothing outside these classes matches.
_CODE_CLASSES: Final = _classes(
    ("9", b"0123456789"), ("A", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"), (".", b"."), ("-", b"-")
)
_HEX_CLASSES: Final = _classes(("x", b"0123456789abcdef"))
# Agencies, procedures and administrative units number in the thousands, each event names several
# of them, and a lookup is a tenth of a check; the bound only caps memory against odd input.
_REMEMBER_AT_MOST: Final = 20_000


def _shape(shape: str, classes: bytes) -> Callable[[str], bool]:
    expected, size = shape.encode("ascii"), len(shape)

    def matches(value: str) -> bool:
        # isascii() makes encode() one byte per character, so lengths and positions agree.
        return (
            len(value) == size and value.isascii() and value.encode().translate(classes) == expected
        )

    return matches


def _remembered(check: Callable[[str], object]) -> Callable[[str], bool]:
    seen: set[str] = set()

    def remembered(value: str) -> bool:
        if value in seen:
            return True
        if not check(value):
            return False
        if len(seen) < _REMEMBER_AT_MOST:
            seen.add(value)
        return True

    return remembered


def _clean(value: str) -> bool:
    return value != "" and value.strip() == value and value.isprintable()


_QUICK: Final[Mapping[str, Callable[[str], bool]]] = {
    "procedure_code": _remembered(_shape("9.999999", _CODE_CLASSES)),
    "agency_code": _remembered(_shape("999.99.99.A99", _CODE_CLASSES)),
    "admin_unit_code": _remembered(ADMIN_UNIT_CODE.fullmatch),
    "non_empty": _clean,
    # The Circular 01/2018 shape starts and ends with a digit, so it is never empty or padded.
    "dossier_code": _shape("999.99.99.A99-999999-9999", _CODE_CLASSES),
}
_QUICK_PSEUDONYM: Final = _shape("x" * 64, _HEX_CLASSES)


def quick_check(fmt: str | None, pseudonymized: bool) -> Callable[[str], bool] | None:
    """A fast test of a plain ``str`` that, when true, means the field's string rules pass
    without a warning; None when there is none (unknown format, or both a format and ``pii``).

    When it is false, :func:`check_pseudonymized` and :func:`check_format` tell what is wrong,
    if anything: the quick test may refuse a value they accept, never the other way round.
    """
    if pseudonymized:
        return _QUICK_PSEUDONYM if fmt is None else None
    return _QUICK.get(fmt) if fmt is not None else None


def check_pseudonymized(path: str, value: str) -> None:
    # The shape check is what stops a raw citizen ID or phone number from reaching the log.
    if not HMAC_SHA256_HEX.fullmatch(value):
        raise ValidationError(
            path,
            f"<redacted, {len(value)} characters>",
            "must be the 64-character lowercase hex HMAC-SHA-256 of the value, never the raw value",
        )


def field_checks(field: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The format name and whether the field is pseudonymized personal data."""
    fmt = field.get("format")
    return (fmt if isinstance(fmt, str) else None), field.get("pii") == "pseudonymized"
