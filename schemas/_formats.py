"""String formats named by the ``format`` and ``pii`` attributes of the .avsc fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
        # A key with stray whitespace would split one entity's history over two keys.
        if value != value.strip():
            raise ValidationError(path, value, "has leading or trailing whitespace")
        if fmt == "dossier_code" and not DOSSIER_CODE_TT01.fullmatch(value):
            return "does not follow the Circular 01/2018 shape V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX"
        return None
    raise ValidationError(path, value, f"schema names an unknown format {fmt!r}")


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
