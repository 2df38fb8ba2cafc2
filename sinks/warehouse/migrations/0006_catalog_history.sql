-- The procedure catalog with its history, from events_catalog: one row per version, with
-- valid_from and valid_to (inclusive; NULL while in force) and valid_until (2105-12-31 while in
-- force), so "in force on D" is `D BETWEEN valid_from AND valid_until`.
--
-- procedure_history: a ProcedurePublished or ProcedureAmended starts a version (with the values
-- the event carries), which lasts until the day before the next catalog event of the code —
-- amendment, replacement or abolition (the latter two start no version: `ended_by` says which
-- closed it). Events of a code are ordered by their valid_from (the date the change applies),
-- then occurred_at, then offset (one code = one partition); two versions starting the same day:
-- the later event's wins.
-- online_service_history: the same per (procedure_code, service_code) with
-- OnlineServiceOffered / OnlineServiceLevelChanged starting a version and
-- OnlineServiceWithdrawn ending it.
-- No window functions (18.16): the events of a key are sorted in an array and each one is paired
-- with the next by index.
CREATE VIEW IF NOT EXISTS procedure_history AS
SELECT
    procedure_code,
    tupleElement(version, 1)                                   AS valid_from,
    if(i < length(versions), tupleElement(versions[i + 1], 1) - 1, toDate('2105-12-31'))
                                                                AS valid_until,
    nullIf(valid_until, toDate('2105-12-31'))                  AS valid_to,
    tupleElement(version, 4)                                   AS started_by,
    if(i < length(versions), tupleElement(versions[i + 1], 4), '') AS ended_by,
    if(i < length(versions), tupleElement(versions[i + 1], 11), '') AS replaced_by_code,
    tupleElement(version, 5)                                   AS name,
    tupleElement(version, 6)                                   AS authority_level,
    tupleElement(version, 7)                                   AS field_code,
    tupleElement(version, 8)                                   AS processing_time_value,
    tupleElement(version, 9)                                   AS processing_time_unit,
    tupleElement(version, 10)                                  AS decision_no
FROM
(
    SELECT
        procedure_code,
        arraySort(
            e -> (tupleElement(e, 1), tupleElement(e, 2), tupleElement(e, 3)),
            groupArray((
                assumeNotNull(valid_from),
                occurred_at,
                src_offset,
                event_type,
                ifNull(name, ''),
                ifNull(authority_level, ''),
                ifNull(field_code, ''),
                ifNull(processing_time_value, 0),
                ifNull(processing_time_unit, ''),
                ifNull(decision_no, ''),
                ifNull(replaced_by_code, '')
            ))
        ) AS versions
    FROM events_catalog
    WHERE event_type IN ('ProcedurePublished', 'ProcedureAmended', 'ProcedureReplaced',
                         'ProcedureAbolished')
      AND procedure_code IS NOT NULL AND valid_from IS NOT NULL
    GROUP BY assumeNotNull(procedure_code) AS procedure_code
) AS by_code
ARRAY JOIN versions AS version, arrayEnumerate(versions) AS i
WHERE tupleElement(version, 4) IN ('ProcedurePublished', 'ProcedureAmended')
  AND valid_until >= valid_from;

CREATE VIEW IF NOT EXISTS online_service_history AS
SELECT
    procedure_code,
    service_code,
    tupleElement(version, 1)                                   AS valid_from,
    if(i < length(versions), tupleElement(versions[i + 1], 1) - 1, toDate('2105-12-31'))
                                                                AS valid_until,
    nullIf(valid_until, toDate('2105-12-31'))                  AS valid_to,
    tupleElement(version, 4)                                   AS started_by,
    if(i < length(versions), tupleElement(versions[i + 1], 4), '') AS ended_by,
    tupleElement(version, 5)                                   AS level,
    tupleElement(version, 6)                                   AS providing_agency_code,
    tupleElement(version, 7)                                   AS online_payment_integrated
FROM
(
    SELECT
        procedure_code,
        service_code,
        arraySort(
            e -> (tupleElement(e, 1), tupleElement(e, 2), tupleElement(e, 3)),
            groupArray((
                assumeNotNull(valid_from),
                occurred_at,
                src_offset,
                event_type,
                ifNull(level, ''),
                ifNull(providing_agency_code, ''),
                ifNull(online_payment_integrated, 0)
            ))
        ) AS versions
    FROM events_catalog
    WHERE event_type IN ('OnlineServiceOffered', 'OnlineServiceLevelChanged',
                         'OnlineServiceWithdrawn')
      AND procedure_code IS NOT NULL AND service_code IS NOT NULL AND valid_from IS NOT NULL
    GROUP BY assumeNotNull(procedure_code) AS procedure_code,
             assumeNotNull(service_code) AS service_code
) AS by_service
ARRAY JOIN versions AS version, arrayEnumerate(versions) AS i
WHERE tupleElement(version, 4) IN ('OnlineServiceOffered', 'OnlineServiceLevelChanged')
  AND valid_until >= valid_from;
