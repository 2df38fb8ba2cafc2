-- Current state of each dossier, completing v_dossiers (0004) with what it lacks:
-- - holding_agency_code / holding_since: the agency that holds the dossier now, as the
--   processors fold it (stream_processors/dossier/_effects.py): the resolving agency at
--   reception, the receiving agency of a transfer, the agency that got an inter-agency result
--   back; the latest of these in event time wins.
-- - appointment_in_force: the appointment date (ngày hẹn trả) after the latest reschedule
--   (AppointmentChanged, or a supplement carrying a new date), else the one given at reception.
-- - current_due_date: the due date of the latest outcome once resolved, else the appointment in
--   force (the processors' statutory due date is published only with the outcome).
-- A view: the dossiers of one agency or procedure are read in well under a second; the whole
-- city at 22.6 M dossiers is what the aggregates (v_annual_report, v_backlog) are for.
CREATE VIEW IF NOT EXISTS dossiers_current AS
SELECT
    dossier_code,
    status,
    last_event_at,
    procedure_code,
    receiving_agency_code,
    resolving_agency_code,
    nullIf(holder, '')                                                       AS holding_agency_code,
    holding_since,
    channel,
    received_at,
    resolved_at,
    resolution,
    outcome_class,
    if(rescheduled != toDate('1970-01-01'), rescheduled, appointment_date)  AS appointment_in_force,
    if(outcome_class != '', due_date, appointment_in_force)                  AS current_due_date,
    days_late
FROM v_dossiers AS state
ANY LEFT JOIN
(
    SELECT
        dossier_code,
        argMaxIf(
            multiIf(event_type = 'DossierReceived', ifNull(resolving_agency_code, ''),
                    event_type = 'DossierTransferred', ifNull(to_agency_code, ''),
                    agency_code),
            occurred_at,
            event_type IN ('DossierReceived', 'DossierTransferred', 'InterAgencyResultReceived')
        )                                                                    AS holder,
        maxIf(occurred_at, event_type IN ('DossierReceived', 'DossierTransferred',
                                          'InterAgencyResultReceived'))      AS holding_since,
        argMaxIf(
            ifNull(new_appointment_date, toDate('1970-01-01')),
            occurred_at,
            event_type IN ('AppointmentChanged', 'DossierSupplemented')
                AND new_appointment_date IS NOT NULL
        )                                                                    AS rescheduled
    FROM events_dossier
    GROUP BY dossier_code
) AS holding USING dossier_code;
