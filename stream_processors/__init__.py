"""The hub's Faust-streaming apps: validator, event-sourced dossier state, overdue detection and
rolling aggregates. Pure domain logic (the dossier state machine) lives beside them with no I/O."""
