"""Pseudonyms: keyed, normalized, separated per kind; keys from settings; no raw value in errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import stat
import threading
from pathlib import Path
from typing import Final

import pytest

from dossierhub.errors import ConfigError, ValidationError
from dossierhub.settings import Settings
from producers.jsonlines import read_jsonlines
from producers.pseudonyms import Pseudonymizer, PseudonymKeyError, replace_raw_fields
from schemas import event_type, example_event, validate_event
from tests.helpers import as_json

KEY: Final = bytes(range(32))
CCCD: Final = "079190000001"
AGENCY: Final = "000.00.15.H29"


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(KEY)


def test_a_pseudonym_is_the_documented_hmac(pseudonymizer: Pseudonymizer) -> None:
    # schemas/README.md, "Pseudonyms", written out independently of the module
    expected = hmac.new(
        KEY, b"dossierhub/pseudonym/v1/citizen_id\x00" + CCCD.encode(), hashlib.sha256
    ).hexdigest()
    assert pseudonymizer.citizen_id(CCCD) == expected


def test_kinds_are_separated_and_keys_matter(pseudonymizer: Pseudonymizer) -> None:
    as_name = pseudonymizer.name("0901234567")
    as_phone = pseudonymizer.phone("0901234567")
    assert as_name != as_phone
    assert Pseudonymizer(KEY[::-1]).phone("0901234567") != as_phone


@pytest.mark.parametrize(
    ("kind", "same"),
    [
        ("citizen_id", ["079190000001", " 0791 9000 0001 ", "079190000001\n"]),
        (
            "name",
            [
                "NGUYỄN VĂN AN",
                "Nguyễn  Văn\tAn",
                " nguyễn văn an ",
                # decomposed: e + combining circumflex + combining tilde
                "Nguye\u0302\u0303n Văn An",
            ],
        ),
        (
            "phone",
            ["0901234567", "+84901234567", "84901234567", "0084 901 234 567", "090.123.4567"],
        ),
        ("phone", ["02838291234", "+84 28 3829 1234", "(028) 3829-1234"]),
    ],
)
def test_spellings_of_one_value_give_one_pseudonym(
    pseudonymizer: Pseudonymizer, kind: str, same: list[str]
) -> None:
    digest = getattr(pseudonymizer, kind)
    pseudonyms = {digest(value) for value in same}
    assert len(pseudonyms) == 1
    [pseudonym] = pseudonyms
    assert len(pseudonym) == 64
    assert pseudonym == pseudonym.lower()


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("citizen_id", "07919000000"),  # 11 digits
        ("citizen_id", "0791900000012"),
        ("citizen_id", "07919000000A"),
        ("citizen_id", "٠٧٩١٩٠٠٠٠٠٠١"),  # Arabic-Indic digits are digits, not a CCCD
        ("name", "   "),
        ("phone", "0123456789"),  # 01x is no Vietnamese prefix any more
        ("phone", "090123456"),  # one digit short
        ("phone", "+1 415 555 0100"),
        ("phone", "hotline 0901234567"),
    ],
)
def test_refused_values_are_described_not_echoed(
    pseudonymizer: Pseudonymizer, kind: str, raw: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        getattr(pseudonymizer, kind)(raw)
    message = caught.value.one_line()
    assert caught.value.field == kind
    assert "redacted" in message
    assert "\n" not in message
    for piece in raw.split():
        if len(piece) > 3:
            assert piece not in message


def test_non_strings_are_refused(pseudonymizer: Pseudonymizer) -> None:
    with pytest.raises(ValidationError, match="expected a string"):
        pseudonymizer.citizen_id(79190000001)  # type: ignore[arg-type]


def test_applicant_keeps_what_was_not_collected_null(pseudonymizer: Pseudonymizer) -> None:
    hashed = pseudonymizer.applicant(citizen_id=CCCD, phone="0901234567")
    assert hashed == {
        "applicant_id_hash": pseudonymizer.citizen_id(CCCD),
        "applicant_name_hash": None,
        "applicant_phone_hash": pseudonymizer.phone("0901234567"),
    }
    event = example_event("DossierReceived")
    event.update(hashed)
    validate_event(event)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        Pseudonymizer(b"x" * 15)


def test_the_key_is_never_printed() -> None:
    settings = Settings.from_env({"DOSSIERHUB_PSEUDONYM_KEY": KEY.hex()})
    assert KEY.hex() not in repr(settings)
    assert KEY.hex() not in json.dumps(settings.redacted())
    assert "redacted" in repr(Pseudonymizer(KEY))


@pytest.mark.parametrize("text", [KEY.hex(), KEY.hex().upper(), base64.b64encode(KEY).decode()])
def test_the_key_is_read_as_hex_or_base64(text: str, pseudonymizer: Pseudonymizer) -> None:
    settings = Settings.from_env({"DOSSIERHUB_PSEUDONYM_KEY": text})
    assert Pseudonymizer.from_settings(settings).citizen_id(CCCD) == pseudonymizer.citizen_id(CCCD)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("not a key!", "neither hex nor base64"), ("00" * 15, "15 bytes"), ("QUJD", "3 bytes")],
)
def test_a_bad_key_names_the_variable_not_the_value(text: str, fragment: str) -> None:
    settings = Settings.from_env({"DOSSIERHUB_PSEUDONYM_KEY": text})
    with pytest.raises(PseudonymKeyError) as caught:
        Pseudonymizer.from_settings(settings)
    message = caught.value.one_line()
    assert "DOSSIERHUB_PSEUDONYM_KEY" in message
    assert fragment in message
    assert text not in message


def test_key_and_key_file_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env(
            {
                "DOSSIERHUB_PSEUDONYM_KEY": KEY.hex(),
                "DOSSIERHUB_PSEUDONYM_KEY_FILE": str(tmp_path / "k"),
            }
        )


def test_a_fresh_home_gets_a_private_key_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"DOSSIERHUB_HOME": str(tmp_path)})
    with caplog.at_level(logging.WARNING, logger="producers.pseudonyms"):
        first = Pseudonymizer.from_settings(settings).citizen_id(CCCD)
        again = Pseudonymizer.from_settings(settings).citizen_id(CCCD)
    assert first == again
    path = tmp_path / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text())) == 32
    assert [r.getMessage() for r in caplog.records if "new pseudonymization key" in r.getMessage()]
    assert sum("new pseudonymization key" in r.getMessage() for r in caplog.records) == 1
    assert list(path.parent.iterdir()) == [path]  # no draft left behind


def test_first_runs_at_once_agree_on_one_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    results: list[str] = []

    def first_run() -> None:
        results.append(Pseudonymizer.from_settings(settings).citizen_id(CCCD))

    threads = [threading.Thread(target=first_run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1


def test_a_home_where_no_key_can_be_made_is_one_clear_error(tmp_path: Path) -> None:
    # a dangling link where the secrets directory should be (permissions do not stop root)
    (tmp_path / "secrets").symlink_to(tmp_path / "unmounted" / "secrets")
    with pytest.raises(PseudonymKeyError, match="cannot create it"):
        Pseudonymizer.from_settings(Settings(home=tmp_path))
    (tmp_path / "secrets").unlink()
    (tmp_path / "secrets").write_text("a file where the directory should be")
    with pytest.raises(PseudonymKeyError, match="cannot read it"):
        Pseudonymizer.from_settings(Settings(home=tmp_path))


def test_a_named_key_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.key"
    settings = Settings.from_env({"DOSSIERHUB_PSEUDONYM_KEY_FILE": str(missing)})
    with pytest.raises(PseudonymKeyError, match="no such file"):
        Pseudonymizer.from_settings(settings)
    assert not missing.exists()


def test_raw_fields_become_pseudonyms(pseudonymizer: Pseudonymizer) -> None:
    event = example_event("DossierReceived")
    for hashed in ("applicant_id_hash", "applicant_name_hash", "applicant_phone_hash"):
        del event[hashed]
    event.update(applicant_id=CCCD, applicant_name="Nguyễn Văn An", applicant_phone=None)
    out = replace_raw_fields(event, event_type("DossierReceived"), pseudonymizer)
    assert "applicant_id" not in out
    assert out["applicant_id_hash"] == pseudonymizer.citizen_id(CCCD)
    assert out["applicant_name_hash"] == pseudonymizer.name("NGUYỄN VĂN AN")
    assert out["applicant_phone_hash"] is None
    validate_event(out)


@pytest.mark.parametrize(
    ("event_name", "pseudonymizer_given", "fragment"),
    [
        ("DossierResolved", True, "has no applicant_id_hash"),
        ("DossierReceived", True, "not both"),  # the example already carries the hash
        ("DossierReceived", False, "no pseudonymization key"),
    ],
)
def test_raw_fields_that_cannot_be_hashed_are_refused_unseen(
    event_name: str, pseudonymizer_given: bool, fragment: str
) -> None:
    event = {**example_event(event_name), "applicant_id": CCCD}
    if not pseudonymizer_given:
        event["applicant_id_hash"] = None
    with pytest.raises(ValidationError) as caught:
        replace_raw_fields(
            event, event_type(event_name), Pseudonymizer(KEY) if pseudonymizer_given else None
        )
    assert fragment in caught.value.one_line()
    assert CCCD not in caught.value.one_line()


def test_jsonlines_hash_raw_fields_before_anything_else(
    tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    line = as_json(example_event("DossierReceived"))
    for hashed in ("applicant_id_hash", "applicant_name_hash", "applicant_phone_hash"):
        del line[hashed]
    del line["envelope"]["event_id"]
    line.update(applicant_id=CCCD, applicant_name="Lê Thị Bình", applicant_phone="0901234567")
    bad = {**line, "applicant_id": "07919"}
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n" + json.dumps(bad) + "\n")
    batch = read_jsonlines(path, AGENCY, "test", pseudonymizer)
    [(_, event)] = batch.events
    assert event["applicant_id_hash"] == pseudonymizer.citizen_id(CCCD)
    assert event["applicant_phone_hash"] == pseudonymizer.phone("+84 90 123 4567")
    assert CCCD not in repr(event)
    [error] = batch.errors
    assert (error.line, "07919" in error.error) == (2, False)
    unkeyed = read_jsonlines(path, AGENCY, "test")
    assert [e.line for e in unkeyed.errors] == [1, 2]
    assert all("no pseudonymization key" in e.error for e in unkeyed.errors)
