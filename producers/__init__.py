"""What agency systems use to publish to the hub: the publisher SDK, the JSON-lines importer
behind ``dossierhub publish``, and (later) the scenario simulator."""

from producers.jsonlines import JsonLinesBatch, LineError, read_jsonlines
from producers.pseudonyms import Pseudonymizer, PseudonymKeyError
from producers.publisher import DeliveryError, Publisher, UndeliveredEvent

__all__ = [
    "DeliveryError",
    "JsonLinesBatch",
    "LineError",
    "PseudonymKeyError",
    "Pseudonymizer",
    "Publisher",
    "UndeliveredEvent",
    "read_jsonlines",
]
