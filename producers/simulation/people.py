"""Simulated applicants: raw identities that exist only inside the simulator.

The publisher SDK's pseudonymizer turns them into keyed hashes before an event is built, so
the raw citizen ID, name and phone never leave the process — as in a real agency system.
A pool of people smaller than the number of dossiers makes repeat applicants, which the hub
can count because the same person always hashes to the same value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

__all__ = ["Person", "person", "pool_size"]

_FAMILY: Final = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
                  "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")  # fmt: skip
_MIDDLE: Final = ("Văn", "Thị", "Minh", "Ngọc", "Hoàng", "Thanh", "Quốc", "Gia", "Bảo", "Đức")
_GIVEN: Final = ("An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hạnh", "Hùng", "Hương", "Khánh",
                 "Lan", "Linh", "Long", "Mai", "Nam", "Ngân", "Phúc", "Quân", "Tâm", "Thảo",
                 "Trang", "Trung", "Tuấn", "Vy")  # fmt: skip
_REPEAT_APPLICANTS: Final = 0.8  # people in the pool per dossier: one in five is a repeat
_MOBILE_PREFIXES: Final = ("090", "091", "093", "097", "098", "070", "079", "077", "083", "086")


@dataclass(frozen=True, slots=True)
class Person:
    citizen_id: str  # CCCD: 12 digits, starting with the province code of birth (079 = HCMC)
    name: str
    phone: str


def pool_size(dossiers: int) -> int:
    """How many people apply for ``dossiers`` dossiers (person numbers 0 … size - 1)."""
    return max(1, int(dossiers * _REPEAT_APPLICANTS))


def person(seed: int, number: int) -> Person:
    """The ``number``-th person of the pool of ``seed`` (pure: same inputs, same person)."""
    digest = hashlib.blake2b(f"{seed}/{number}".encode(), digest_size=16).digest()
    value = int.from_bytes(digest, "big")
    birth_year = 1950 + value % 56
    century_sex = (0 if birth_year < 2000 else 2) + (value >> 8) % 2  # CCCD gender/century digit
    serial = (value >> 16) % 1_000_000
    citizen_id = f"079{century_sex}{birth_year % 100:02d}{serial:06d}"
    name = " ".join(
        (
            _FAMILY[(value >> 40) % len(_FAMILY)],
            _MIDDLE[(value >> 48) % len(_MIDDLE)],
            _GIVEN[(value >> 56) % len(_GIVEN)],
        )
    )
    phone = (
        f"{_MOBILE_PREFIXES[(value >> 64) % len(_MOBILE_PREFIXES)]}{(value >> 72) % 10_000_000:07d}"
    )
    return Person(citizen_id, name, phone)
