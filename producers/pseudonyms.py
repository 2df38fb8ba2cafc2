"""Pseudonyms of citizens' personal data, made before an event leaves the agency.

The hub never holds a citizen's ID number (CCCD), name or phone number: the publisher SDK
replaces each with a keyed HMAC-SHA-256 hex digest, so the hub can still count repeat applicants
and join on the same person. How a pseudonym is made (schemas/README.md, "Pseudonyms")::

    hmac_sha256(key, b"dossierhub/pseudonym/v1/<kind>\\x00" + utf8(normalized value)).hexdigest()

``<kind>`` is ``citizen_id``, ``name`` or ``phone``: the same string hashed as a name and as a
phone gives two unrelated pseudonyms. Normalization follows the field docs of the contract, so
that every agency computes the same pseudonym for the same person:

- citizen ID: the 12 digits of a CCCD, whitespace removed;
- name: Unicode NFC, runs of whitespace collapsed to one space, upper-cased;
- phone: E.164 (``+84`` and the national number), from ``0…``, ``84…``, ``+84…`` or ``0084…``
  with spaces, dots, hyphens or parentheses in between.

The key comes from :class:`dossierhub.settings.Settings` (``DOSSIERHUB_PSEUDONYM_KEY`` or the
key file). Every agency of one hub must use the same key, or one person gets one pseudonym per
agency. Error messages describe the shape of a refused value, never the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from dossierhub.errors import ConfigError, ValidationError
from dossierhub.settings import Settings
from schemas.catalog import EventType

__all__ = [
    "MIN_KEY_BYTES",
    "RAW_FIELDS",
    "PseudonymKeyError",
    "Pseudonymizer",
    "decode_key",
    "replace_raw_fields",
]

log = logging.getLogger(__name__)

MIN_KEY_BYTES: Final = 16
_NEW_KEY_BYTES: Final = 32
_DOMAIN: Final = "dossierhub/pseudonym/v1/"
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})+")
_PHONE_SEPARATORS: Final = str.maketrans("", "", " \t.-()")


class PseudonymKeyError(ConfigError):
    """The pseudonymization key is missing, unreadable, malformed or too short."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(
            source,
            "<redacted>",
            problem,
            hint=f"give at least {MIN_KEY_BYTES} random bytes as hex or base64, "
            "e.g. `openssl rand -hex 32`",
        )


def decode_key(text: str, source: str) -> bytes:
    """The key written as hex (tried first) or standard base64 in ``text``."""
    text = text.strip()
    if _HEX.fullmatch(text):
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PseudonymKeyError(source, "neither hex nor base64") from exc
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(source, f"{len(key)} bytes; at least {MIN_KEY_BYTES} needed")
    return key


def _shape(raw: str) -> str:
    """What a refused value looks like without what it is: digits as 9, letters as A."""
    shape = "".join(
        "9" if c.isdigit() else "A" if c.isalpha() else " " if c.isspace() else "?"
        for c in raw[:40]
    )
    return f"<redacted, {len(raw)} characters shaped {shape}{'…' if len(raw) > 40 else ''}>"


class Pseudonymizer:
    """Keyed pseudonyms of citizens' identifiers (see the module docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                "pseudonymization key", f"{len(key)} bytes; at least {MIN_KEY_BYTES} needed"
            )
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<redacted>)"

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymizer:
        """The key of ``DOSSIERHUB_PSEUDONYM_KEY``, else of the key file (created if it is the
        default one and does not exist yet, so a fresh checkout runs the demo)."""
        if settings.pseudonym_key is not None:
            return cls(decode_key(settings.pseudonym_key, "DOSSIERHUB_PSEUDONYM_KEY"))
        path = settings.effective_pseudonym_key_file
        return cls(_key_from_file(path, create=settings.pseudonym_key_file is None))

    # -- one field each ----------------------------------------------------------------------
    def citizen_id(self, raw: str) -> str:
        """The pseudonym of a CCCD (12 digits; whitespace is ignored)."""
        value = "".join(_text("citizen_id", raw).split())
        if not (len(value) == 12 and value.isascii() and value.isdigit()):
            raise ValidationError("citizen_id", _shape(raw), "expected the 12 digits of a CCCD")
        return self._digest("citizen_id", value)

    def name(self, raw: str) -> str:
        """The pseudonym of a person's full name (NFC, spaces collapsed, upper-cased)."""
        collapsed = " ".join(unicodedata.normalize("NFC", _text("name", raw)).split())
        if not collapsed:
            raise ValidationError("name", _shape(raw), "a name needs at least one character")
        # upper() may decompose a few characters (e.g. ǰ → J̌): normalize once more after it
        return self._digest("name", unicodedata.normalize("NFC", collapsed.upper()))

    def phone(self, raw: str) -> str:
        """The pseudonym of a Vietnamese phone number, in E.164 form (``+84…``)."""
        return self._digest("phone", _e164(raw))

    def applicant(
        self,
        *,
        citizen_id: str | None = None,
        name: str | None = None,
        phone: str | None = None,
    ) -> dict[str, str | None]:
        """``{'applicant_id_hash':…, 'applicant_name_hash':…, 'applicant_phone_hash':…}``,
        None where the value was not collected."""
        return {
            "applicant_id_hash": None if citizen_id is None else self.citizen_id(citizen_id),
            "applicant_name_hash": None if name is None else self.name(name),
            "applicant_phone_hash": None if phone is None else self.phone(phone),
        }

    def _digest(self, kind: str, value: str) -> str:
        message = f"{_DOMAIN}{kind}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _text(field: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise ValidationError(field, f"<{type(raw).__name__}>", "expected a string")
    return raw


def _e164(raw: str) -> str:
    digits = _text("phone", raw).translate(_PHONE_SEPARATORS)
    national: str | None = None
    for prefix in ("+84", "0084", "0", "84"):
        if digits.startswith(prefix):
            national = digits[len(prefix) :]
            break
    # Mobile: 9 digits after the country code, starting 3/5/7/8/9; landline: 10, starting 2.
    if not (
        national
        and national.isascii()
        and national.isdigit()
        and (
            (len(national) == 9 and national[0] in "35789")
            or (len(national) == 10 and national[0] == "2")
        )
    ):
        raise ValidationError(
            "phone",
            _shape(raw),
            "expected a Vietnamese number: 0, 84, +84 or 0084, then 9 digits (mobile, "
            "starting 3/5/7/8/9) or 10 digits (landline, starting 2)",
        )
    return "+84" + national


#: raw key an input event may carry → (the contract's pseudonymized field, how to hash it)
RAW_FIELDS: Final[Mapping[str, tuple[str, Callable[[Pseudonymizer, str], str]]]] = {
    "applicant_id": ("applicant_id_hash", Pseudonymizer.citizen_id),
    "applicant_name": ("applicant_name_hash", Pseudonymizer.name),
    "applicant_phone": ("applicant_phone_hash", Pseudonymizer.phone),
}


def replace_raw_fields(
    event: Mapping[str, Any], known: EventType, pseudonymizer: Pseudonymizer | None
) -> Mapping[str, Any]:
    """``event`` with each raw identifier key replaced by its pseudonym (see RAW_FIELDS).

    Without a pseudonymizer a raw key is an error: the raw value must not go further.
    """
    raw_keys = [k for k in RAW_FIELDS if k in event]
    if not raw_keys:
        return event
    fields = {f["name"] for f in known.schema["fields"]}
    out = dict(event)
    for raw_key in raw_keys:
        hashed, digest = RAW_FIELDS[raw_key]
        value = out.pop(raw_key)
        shown = "<redacted>" if value is not None else None
        if hashed not in fields:
            raise ValidationError(raw_key, shown, f"{known.name} has no {hashed} field")
        if out.get(hashed) is not None:
            raise ValidationError(raw_key, shown, f"give {raw_key} or {hashed}, not both")
        if pseudonymizer is None:
            raise ValidationError(
                raw_key, shown, "raw personal data, and no pseudonymization key to hash it with"
            )
        out[hashed] = None if value is None else digest(pseudonymizer, value)
    return out


def _key_from_file(path: Path, *, create: bool) -> bytes:
    source = f"DOSSIERHUB_PSEUDONYM_KEY_FILE ({path})"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        if not create:
            raise PseudonymKeyError(source, "no such file") from None
        return _create_key_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise PseudonymKeyError(source, f"cannot read it ({exc.__class__.__name__})") from exc
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("pseudonymization key file %s is readable by others: chmod 600 it", path)
    return decode_key(text, source)


def _create_key_file(path: Path) -> bytes:
    """Write a new random key to ``path`` (mode 600), unless another process just did."""
    key = secrets.token_bytes(_NEW_KEY_BYTES)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise PseudonymKeyError(
            f"DOSSIERHUB_PSEUDONYM_KEY_FILE ({path})", f"cannot create it: {exc.strerror}"
        ) from exc
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() publishes the complete file or fails if one exists: no reader sees half a key,
        # and two first runs at once agree on the winner's key.
        os.link(draft, path)
    except FileExistsError:
        return _key_from_file(path, create=False)
    finally:
        draft.unlink(missing_ok=True)
    log.warning(
        "created a new pseudonymization key in %s; every agency of this hub must use the same "
        "key (DOSSIERHUB_PSEUDONYM_KEY or _FILE), or their pseudonyms will not match",
        path,
    )
    return key
