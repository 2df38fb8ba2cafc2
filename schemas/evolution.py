"""Keeping the registry in step with the working tree: ``schemas check`` and ``schemas apply``.

``check_schemas`` is read-only and meant for CI before ``apply_schemas``: per subject it says
whether this checkout's schema is new, already registered, a compatible change or INCOMPATIBLE,
with the registry as the judge. ``apply_schemas`` sets each subject's compatibility level and
registers what is not registered yet; running it twice changes nothing the second time.

Apicurio's ccompat API answers ``POST /compatibility/subjects/{s}/versions/latest`` by checking
the latest version only, even for a ``*_TRANSITIVE`` subject (Confluent's registry does the
same for an explicit version), so for a transitive level each version is tested in turn.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .catalog import COMPATIBILITY
from .registry import Registry, RegistryError, load_schemas

__all__ = ["SubjectReport", "SubjectStatus", "apply_schemas", "check_schemas"]

_HTTP_CONFLICT: Final = 409  # registering an incompatible schema
_HTTP_UNPROCESSABLE: Final = 422  # a schema the registry cannot parse
# Apicurio serves its native API next to the Confluent one; its dry-run explains a violation.
_CCOMPAT_SUFFIXES: Final = ("/apis/ccompat/v7", "/apis/ccompat/v6")
_APICURIO_DRY_RUN: Final = "/apis/registry/v3/groups/default/artifacts/{}/versions?dryRun=true"
_REASON_TIMEOUT_S: Final = 5.0
_JAVA_EXCEPTION: Final = re.compile(r"^(?:[a-z_][\w]*\.)+\w+(?:Exception|Error): ")


class SubjectStatus(StrEnum):
    NEW = "new"  # check: the subject does not exist yet; apply will register version 1
    UNCHANGED = "unchanged"  # the latest version is exactly this schema
    BEHIND = "behind"  # this schema is an older version; the registry has newer ones
    COMPATIBLE = "compatible change"  # check: apply will register it as the next version
    REGISTERED = "registered"  # apply: registered as a new version
    INCOMPATIBLE = "INCOMPATIBLE"  # the subject's compatibility rule refuses it
    INVALID = "invalid"  # the registry cannot parse it


@dataclass(frozen=True, slots=True)
class SubjectReport:
    subject: str
    status: SubjectStatus
    schema_id: int | None = None
    version: int | None = None
    compatibility: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status not in (SubjectStatus.INCOMPATIBLE, SubjectStatus.INVALID)

    def as_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "status": self.status.value,
            "ok": self.ok,
            "id": self.schema_id,
            "version": self.version,
            "compatibility": self.compatibility,
            "detail": self.detail,
        }


def check_schemas(
    registry: Registry, schemas: Mapping[str, str] | None = None, *, level: str = COMPATIBILITY
) -> list[SubjectReport]:
    """Compare ``schemas`` (subject -> schema JSON; default: this checkout's) with the registry.

    Changes nothing in the registry. ``level`` is what ``apply_schemas`` will set; a subject
    whose rule differs is judged by its current rule and the detail says so.
    """
    wanted = load_schemas() if schemas is None else schemas
    return [_check(registry, subject, text, level) for subject, text in wanted.items()]


def _check(registry: Registry, subject: str, schema_str: str, level: str) -> SubjectReport:
    versions = registry.versions(subject)
    if not versions:
        return SubjectReport(subject, SubjectStatus.NEW, compatibility=level, detail="version 1")
    known = _registered(registry, subject, schema_str, versions)
    if known is not None:
        return known
    current = registry.compatibility(subject)
    note = "" if current == level else f"; the subject's rule reads {current}, apply sets {level}"
    # The registry checks only the version it is asked about, whatever the level (Apicurio even
    # for "latest"), so a transitive rule means asking about each version. Apply sets ``level``
    # before registering, so its scope is the one that will judge the registration.
    transitive = level.endswith("_TRANSITIVE") or current.endswith("_TRANSITIVE")
    against = versions if transitive else versions[-1:]
    broken = [v for v in against if not registry.is_compatible(subject, schema_str, v)]
    if not broken:
        return SubjectReport(
            subject,
            SubjectStatus.COMPATIBLE,
            compatibility=current,
            detail=f"would be version {versions[-1] + 1}{note}",
        )
    reason = _reason(registry, subject, schema_str, broken[0])
    return SubjectReport(
        subject,
        SubjectStatus.INCOMPATIBLE,
        compatibility=current,
        detail=f"{current} refuses it: breaks {_versions_text(broken)}"
        + (f": {reason}" if reason else "")
        + note,
    )


def apply_schemas(
    registry: Registry, schemas: Mapping[str, str] | None = None, *, level: str = COMPATIBILITY
) -> list[SubjectReport]:
    """Set ``level`` on every subject, then register each schema that is not registered yet.

    The level is set first so that the registration is judged by it, not by whatever the
    registry's global default is. A refused schema is reported and the others still applied.
    """
    wanted = load_schemas() if schemas is None else schemas
    return [_apply(registry, subject, text, level) for subject, text in wanted.items()]


def _apply(registry: Registry, subject: str, schema_str: str, level: str) -> SubjectReport:
    # The subject's own level, not an inherited one: a global default can change later.
    before = registry.own_compatibility(subject)
    if before != level:
        registry.set_compatibility(subject, level)
    set_note = "" if before == level else f"compatibility {before or '(global)'} → {level}"
    versions = registry.versions(subject)
    known = _registered(registry, subject, schema_str, versions) if versions else None
    if known is not None:
        detail = "; ".join(d for d in (known.detail, set_note) if d)
        return SubjectReport(
            subject, known.status, known.schema_id, known.version, level, detail=detail
        )
    try:
        registry.register(subject, schema_str)
    except RegistryError as exc:
        if exc.http_status == _HTTP_CONFLICT:
            status = SubjectStatus.INCOMPATIBLE
        elif exc.http_status == _HTTP_UNPROCESSABLE:
            status = SubjectStatus.INVALID
        else:
            raise
        # Apicurio prefixes its Java exception class; the rest is the registry's reason.
        reason = _JAVA_EXCEPTION.sub("", exc.message, count=1)
        return SubjectReport(subject, status, compatibility=level, detail=reason)
    # The registration answer has the id but not the version: read both back.
    found = registry.lookup(subject, schema_str)
    if found is None:
        raise RegistryError("register", subject, "registered, but the lookup does not find it")
    detail = "; ".join(d for d in (f"new version {found.version}", set_note) if d)
    return SubjectReport(
        subject, SubjectStatus.REGISTERED, found.schema_id, found.version, level, detail=detail
    )


def _registered(
    registry: Registry, subject: str, schema_str: str, versions: list[int]
) -> SubjectReport | None:
    found = registry.lookup(subject, schema_str)
    if found is None:
        return None
    if found.version == versions[-1]:
        return SubjectReport(subject, SubjectStatus.UNCHANGED, found.schema_id, found.version)
    return SubjectReport(
        subject,
        SubjectStatus.BEHIND,
        found.schema_id,
        found.version,
        detail=f"the registry's latest is version {versions[-1]}",
    )


def _versions_text(versions: list[int]) -> str:
    label = "version" if len(versions) == 1 else "versions"
    return f"{label} {', '.join(map(str, versions))}"


# ---- why: the registry's own explanation, best effort ----------------------------------------


def _reason(registry: Registry, subject: str, schema_str: str, version: int) -> str:
    """The registry's explanation of an incompatibility, or "" when it gives none.

    Confluent's registry lists the problems with ``?verbose=true``; Apicurio's ccompat API
    ignores that flag, but its native API explains a rule violation for a dry-run
    registration. Either request failing only costs the explanation, not the verdict.
    """
    quoted = urllib.parse.quote(subject, safe="")
    verbose = f"{registry.url}/compatibility/subjects/{quoted}/versions/{version}?verbose=true"
    answer = _post_json(verbose, {"schema": schema_str, "schemaType": "AVRO"})
    messages = answer.get("messages") if answer else None
    if isinstance(messages, list) and messages:
        return "; ".join(" ".join(str(m).split()) for m in messages)
    suffix = next((s for s in _CCOMPAT_SUFFIXES if registry.url.endswith(s)), None)
    base = registry.url.removesuffix(suffix) if suffix else None
    if base is None:
        return ""
    body = {"content": {"content": schema_str, "contentType": "application/json"}}
    answer = _post_json(base + _APICURIO_DRY_RUN.format(quoted), body)
    causes = answer.get("causes") if answer else None
    if not isinstance(causes, list):
        return ""
    return "; ".join(
        f"{c.get('description', '?')} at {c.get('context', '?')}"
        for c in causes
        if isinstance(c, dict)
    )


def _post_json(url: str, body: object) -> dict[str, object] | None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=_REASON_TIMEOUT_S) as response:
            payload = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:  # a refusal carries the explanation in its body
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None
