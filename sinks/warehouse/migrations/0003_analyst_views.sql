-- Named views for analysts (examples in sinks/README.md). Plain views: nothing is stored twice,
-- and each runs on 18.16 and on chDB (no window functions: "latest" is argMax).
--
-- Dates are local dates in Asia/Ho_Chi_Minh (UTC+7), as the legal deadlines are.

-- The latest outcome of each dossier: the processors re-emit an outcome when a late fact
-- changes it, and at-least-once delivery may repeat one; the last one on the topic wins.
CREATE VIEW IF NOT EXISTS v_dossier_outcomes AS
SELECT
    dossier_code,
    argMax(outcome_class, src_offset)         AS outcome_class,
    argMax(received_at, src_offset)           AS received_at,
    argMax(resolved_at, src_offset)           AS resolved_at,
    argMax(due_date, src_offset)              AS due_date,
    argMax(days_taken, src_offset)            AS days_taken,
    argMax(days_late, src_offset)             AS days_late,
    argMax(receiving_agency_code, src_offset) AS receiving_agency_code,
    argMax(resolving_agency_code, src_offset) AS resolving_agency_code,
    argMax(procedure_code, src_offset)        AS procedure_code,
    argMax(authority_level, src_offset)       AS authority_level,
    argMax(channel, src_offset)               AS channel,
    argMax(apology_issued, src_offset)        AS apology_issued,
    argMax(resolution, src_offset)            AS resolution
FROM dossier_outcomes
GROUP BY dossier_code;

-- On-time rate by resolving agency and month of resolution (trước hạn + đúng hạn).
CREATE VIEW IF NOT EXISTS v_on_time_rate AS
SELECT
    resolving_agency_code                                    AS agency_code,
    toStartOfMonth(toDate(resolved_at, 'Asia/Ho_Chi_Minh'))  AS month,
    count()                                                  AS resolved,
    countIf(outcome_class = 'EARLY')                         AS early,
    countIf(outcome_class = 'ON_TIME')                       AS on_time,
    countIf(outcome_class = 'OVERDUE')                       AS overdue,
    round((early + on_time) / resolved, 4)                   AS on_time_rate
FROM v_dossier_outcomes
GROUP BY agency_code, month;

-- Overdue dossiers that got no apology letter (phiếu xin lỗi) before they ended.
CREATE VIEW IF NOT EXISTS v_overdue_without_apology AS
SELECT
    dossier_code,
    resolving_agency_code AS agency_code,
    procedure_code,
    due_date,
    toDate(resolved_at, 'Asia/Ho_Chi_Minh') AS resolved_on,
    days_late
FROM v_dossier_outcomes
WHERE outcome_class = 'OVERDUE' AND apology_issued = 0;

-- Online share of received dossiers by receiving agency and month of reception.
CREATE VIEW IF NOT EXISTS v_online_share AS
SELECT
    receiving_agency_code                                    AS agency_code,
    toStartOfMonth(toDate(received_at, 'Asia/Ho_Chi_Minh'))  AS month,
    count()                                                  AS received,
    countIf(channel = 'ONLINE')                              AS received_online,
    round(received_online / received, 4)                     AS online_share
FROM events_dossier
WHERE event_type = 'DossierReceived'
GROUP BY agency_code, month;

-- The processors' windowed aggregates: each window's value is the sum over its slices (one per
-- intake partition), taking the newest copy (largest as_of_offset) of each slice.
CREATE VIEW IF NOT EXISTS v_aggregates AS
SELECT
    window_kind,
    window_start,
    any(window_end)              AS window_end,
    dimension_kind,
    dimension_key,
    sum(received)                AS received,
    sum(received_online)         AS received_online,
    sum(carried_over)            AS carried_over,
    sum(resolved)                AS resolved,
    sum(resolved_early)          AS resolved_early,
    sum(resolved_on_time)        AS resolved_on_time,
    sum(resolved_overdue)        AS resolved_overdue,
    sum(in_progress)             AS in_progress,
    sum(in_progress_overdue)     AS in_progress_overdue,
    sum(apologies_issued)        AS apologies_issued,
    sum(ended_unresolved)        AS ended_unresolved,
    count()                      AS slices
FROM
(
    SELECT
        window_kind,
        window_start,
        dimension_kind,
        dimension_key,
        source_partition,
        argMax(window_end, as_of_offset)                 AS window_end,
        argMax(counts_received, as_of_offset)            AS received,
        argMax(counts_received_online, as_of_offset)     AS received_online,
        argMax(counts_carried_over, as_of_offset)        AS carried_over,
        argMax(counts_resolved, as_of_offset)            AS resolved,
        argMax(counts_resolved_early, as_of_offset)      AS resolved_early,
        argMax(counts_resolved_on_time, as_of_offset)    AS resolved_on_time,
        argMax(counts_resolved_overdue, as_of_offset)    AS resolved_overdue,
        argMax(counts_in_progress, as_of_offset)         AS in_progress,
        argMax(counts_in_progress_overdue, as_of_offset) AS in_progress_overdue,
        argMax(counts_apologies_issued, as_of_offset)    AS apologies_issued,
        argMax(counts_ended_unresolved, as_of_offset)    AS ended_unresolved
    FROM aggregate_slices
    GROUP BY window_kind, window_start, dimension_kind, dimension_key, source_partition
)
GROUP BY window_kind, window_start, dimension_kind, dimension_key;

-- The annual report (báo cáo năm) per agency, from the YEAR windows: answers from a few
-- thousand slice rows whatever the number of dossiers.
CREATE VIEW IF NOT EXISTS v_annual_report AS
SELECT
    toYear(window_start)                                           AS year,
    dimension_key                                                  AS agency_code,
    received,
    received_online,
    carried_over,
    resolved,
    resolved_early,
    resolved_on_time,
    resolved_overdue,
    in_progress,
    in_progress_overdue,
    apologies_issued,
    round((resolved_early + resolved_on_time) / resolved, 4)       AS on_time_rate,
    round(received_online / received, 4)                           AS online_share
FROM v_aggregates
WHERE window_kind = 'YEAR' AND dimension_kind = 'AGENCY';

-- Backlog over time (hồ sơ tồn): open dossiers per day, city-wide and per agency.
CREATE VIEW IF NOT EXISTS v_backlog AS
SELECT
    window_start       AS day,
    dimension_kind,
    dimension_key,
    in_progress,
    in_progress_overdue
FROM v_aggregates
WHERE window_kind = 'DAY';
