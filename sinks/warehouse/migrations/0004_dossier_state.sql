-- Current state of each dossier, from the event store (which holds only the events the
-- processors accepted) and the latest outcome. The status is the DVCQG code of the latest
-- status-setting event in event time — what the processors' state machine converges to
-- (stream_processors/README.md, "Why this converges"). Events that set no status (payments,
-- appointments, apologies, ratings) leave it alone. Subqueries carry aliases: the current
-- engine requires them in a JOIN, 18.16 accepts them.
CREATE VIEW IF NOT EXISTS v_dossiers AS
SELECT
    dossier_code,
    status,
    last_event_at,
    procedure_code,
    receiving_agency_code,
    resolving_agency_code,
    channel,
    received_at,
    appointment_date,
    resolved_at,
    resolution,
    outcome_class,
    due_date,
    days_late
FROM
(
    SELECT
        dossier_code,
        argMaxIf(status_code, occurred_at, status_code > 0)          AS status,
        max(occurred_at)                                             AS last_event_at,
        anyIf(procedure_code, event_type = 'DossierReceived')        AS procedure_code,
        anyIf(receiving_agency_code, event_type = 'DossierReceived') AS receiving_agency_code,
        anyIf(resolving_agency_code, event_type = 'DossierReceived') AS resolving_agency_code,
        anyIf(channel, event_type = 'DossierReceived')               AS channel,
        anyIf(received_at, event_type = 'DossierReceived')           AS received_at,
        anyIf(appointment_date, event_type = 'DossierReceived')      AS appointment_date,
        anyIf(resolved_at, event_type = 'DossierResolved')           AS resolved_at,
        anyIf(outcome, event_type = 'DossierResolved')               AS resolution
    FROM
    (
        SELECT
            dossier_code,
            event_type,
            occurred_at,
            procedure_code,
            receiving_agency_code,
            resolving_agency_code,
            channel,
            received_at,
            appointment_date,
            resolved_at,
            outcome,
            multiIf(
                event_type = 'DossierSubmitted', 1,
                event_type = 'DossierReceived', 2,
                event_type = 'DossierReceptionRefused', 3,
                event_type IN ('DossierAssigned', 'DossierStepCompleted', 'DossierTransferred',
                               'InterAgencyResultReceived', 'DossierSupplemented'), 4,
                event_type = 'DossierSupplementRequested', 5,
                event_type = 'FinancialObligationRequested', 6,
                event_type = 'WithdrawalRequested', 7,
                event_type = 'DossierStopped', 8,
                event_type = 'DossierResolved', 9,
                event_type = 'ResultReturned', 10,
                0) AS status_code
        FROM events_dossier
    )
    GROUP BY dossier_code
) AS state
ANY LEFT JOIN
(
    SELECT dossier_code, outcome_class, due_date, days_late FROM v_dossier_outcomes
) AS latest_outcome USING dossier_code;
