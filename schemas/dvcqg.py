"""Dossier events mapped to the national portal's status codes (Cổng DVCQG ``TrangThaiHoSo``)."""

from __future__ import annotations

from enum import IntEnum
from types import MappingProxyType
from typing import Final

from .catalog import Family, event_type

__all__ = ["DvcqgStatus", "dvcqg_status"]


class DvcqgStatus(IntEnum):
    """The closed list of dossier status codes used to sync with the national portal."""

    SUBMITTED = 1
    RECEIVED = 2
    RECEPTION_REFUSED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION_REQUESTED = 6
    WITHDRAWAL_REQUESTED = 7
    STOPPED = 8
    RESOLVED = 9
    RESULT_RETURNED = 10

    @property
    def vietnamese(self) -> str:
        return _VIETNAMESE[self]

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_VIETNAMESE: Final = MappingProxyType(
    {
        DvcqgStatus.SUBMITTED: "Mới đăng ký",
        DvcqgStatus.RECEIVED: "Được tiếp nhận",
        DvcqgStatus.RECEPTION_REFUSED: "Không được tiếp nhận",
        DvcqgStatus.PROCESSING: "Đang xử lý",
        DvcqgStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
        DvcqgStatus.FINANCIAL_OBLIGATION_REQUESTED: "Yêu cầu thực hiện nghĩa vụ tài chính",
        DvcqgStatus.WITHDRAWAL_REQUESTED: "Công dân yêu cầu rút hồ sơ",
        DvcqgStatus.STOPPED: "Dừng xử lý",
        DvcqgStatus.RESOLVED: "Đã xử lý xong",
        DvcqgStatus.RESULT_RETURNED: "Đã trả kết quả",
    }
)
_TERMINAL: Final = frozenset(
    {DvcqgStatus.RECEPTION_REFUSED, DvcqgStatus.STOPPED, DvcqgStatus.RESULT_RETURNED}
)

# Every dossier event is listed, including those that leave the status alone (None), so that a
# new dossier event without a decision here fails the completeness test instead of defaulting.
_BY_EVENT: Final = MappingProxyType(
    {
        "DossierSubmitted": DvcqgStatus.SUBMITTED,
        "DossierReceived": DvcqgStatus.RECEIVED,
        "DossierReceptionRefused": DvcqgStatus.RECEPTION_REFUSED,
        "DossierAssigned": DvcqgStatus.PROCESSING,
        "DossierStepCompleted": DvcqgStatus.PROCESSING,
        "DossierTransferred": DvcqgStatus.PROCESSING,
        "InterAgencyResultReceived": DvcqgStatus.PROCESSING,
        "DossierSupplemented": DvcqgStatus.PROCESSING,
        "DossierSupplementRequested": DvcqgStatus.SUPPLEMENT_REQUESTED,
        "FinancialObligationRequested": DvcqgStatus.FINANCIAL_OBLIGATION_REQUESTED,
        "WithdrawalRequested": DvcqgStatus.WITHDRAWAL_REQUESTED,
        "DossierStopped": DvcqgStatus.STOPPED,
        "DossierResolved": DvcqgStatus.RESOLVED,
        "ResultReturned": DvcqgStatus.RESULT_RETURNED,
        "PaymentCompleted": None,
        "AppointmentChanged": None,
        "ApologyIssued": None,
        "ServiceRated": None,
    }
)


def dvcqg_status(event_type_name: str) -> DvcqgStatus | None:
    """The DVCQG status a dossier enters with this event; None when the event does not change
    the status (payments, appointment changes, apologies, ratings, and non-dossier events).

    Raises :class:`~schemas.errors.UnknownEventTypeError` for a name that is not an event type.
    """
    known = event_type(event_type_name)
    if known.family is not Family.DOSSIER:
        return None
    return _BY_EVENT[event_type_name]
