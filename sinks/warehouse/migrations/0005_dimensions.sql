-- Agencies and administrative units, effective-dated: the 2023 structure and the one from
-- 1 July 2025 side by side. Two sources: the reference files in dossierhub/directory/
-- (seeded into the *_seed tables by `dossierhub warehouse migrate`, see sinks/warehouse/seed.py)
-- and the reference-data events the sink loads into events_reference (AgencyRegistered,
-- AgencyChanged, AdministrativeUnitChanged). The dim_* views merge them: one row per
-- (code, valid_from) version; an event's version replaces the seed's version of the same code
-- and start date, and of two events the later (occurred_at) wins. valid_to is inclusive and
-- NULL while open; valid_until is the same with 2105-12-31 for open, so "in force on D" is
-- `D BETWEEN valid_from AND valid_until`. argMax skips NULL arguments on 18.16, hence the
-- ifNull/nullIf around nullable columns.
CREATE TABLE IF NOT EXISTS dim_admin_units_seed
(
    code        String,
    name        String,
    type        String,
    parent_code Nullable(String),
    valid_from  Date,
    valid_to    Nullable(Date),
    code_source String,
    name_source String,
    seed_file   String
)
ENGINE = MergeTree
ORDER BY (code, valid_from);

CREATE TABLE IF NOT EXISTS dim_agencies_seed
(
    code            String,
    name            String,
    level           String,
    parent_code     Nullable(String),
    admin_unit_code Nullable(String),
    valid_from      Date,
    valid_to        Nullable(Date),
    code_source     String,
    name_source     String,
    seed_file       String
)
ENGINE = MergeTree
ORDER BY (code, valid_from);

-- Which reference file is seeded, with which content (a changed file is seeded again).
CREATE TABLE IF NOT EXISTS reference_seeds
(
    seed_file String,
    checksum  String,
    rows      UInt32,
    seeded_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY seed_file;

CREATE VIEW IF NOT EXISTS dim_admin_units AS
SELECT
    code,
    valid_from,
    nullIf(valid_until, toDate('2105-12-31'))   AS valid_to,
    valid_until,
    name,
    type,
    nullIf(parent, '')                          AS parent_code,
    source
FROM
(
    SELECT
        code,
        valid_from,
        argMax(until, priority)  AS valid_until,
        argMax(name, priority)   AS name,
        argMax(type, priority)   AS type,
        argMax(parent, priority) AS parent,
        argMax(source, priority) AS source
    FROM
    (
        SELECT
            code,
            valid_from,
            ifNull(valid_to, toDate('2105-12-31'))     AS until,
            name,
            type,
            ifNull(parent_code, '')                    AS parent,
            concat('seed:', seed_file)                 AS source,
            toUInt64(0)                                AS priority
        FROM dim_admin_units_seed
        UNION ALL
        SELECT
            assumeNotNull(unit_code)                   AS code,
            assumeNotNull(valid_from)                  AS valid_from,
            ifNull(valid_to, toDate('2105-12-31'))     AS until,
            assumeNotNull(name)                        AS name,
            assumeNotNull(type)                        AS type,
            ifNull(parent_code, '')                    AS parent,
            concat('event:', toString(event_id))       AS source,
            toUInt64(toUnixTimestamp(occurred_at)) + 1 AS priority
        FROM events_reference
        WHERE event_type = 'AdministrativeUnitChanged'
    ) AS versions
    GROUP BY code, valid_from
) AS merged;

CREATE VIEW IF NOT EXISTS dim_agencies AS
SELECT
    code,
    valid_from,
    nullIf(valid_until, toDate('2105-12-31')) AS valid_to,
    valid_until,
    name,
    level,
    nullIf(parent, '')                        AS parent_code,
    nullIf(unit, '')                          AS admin_unit_code,
    nullIf(successor, '')                     AS successor_code,
    source
FROM
(
    SELECT
        code,
        valid_from,
        argMax(until, priority)     AS valid_until,
        argMax(name, priority)      AS name,
        argMax(level, priority)     AS level,
        argMax(parent, priority)    AS parent,
        argMax(unit, priority)      AS unit,
        argMax(successor, priority) AS successor,
        argMax(source, priority)    AS source
    FROM
    (
        SELECT
            code,
            valid_from,
            ifNull(valid_to, toDate('2105-12-31'))     AS until,
            name,
            level,
            ifNull(parent_code, '')                    AS parent,
            ifNull(admin_unit_code, '')                AS unit,
            ''                                         AS successor,
            concat('seed:', seed_file)                 AS source,
            toUInt64(0)                                AS priority
        FROM dim_agencies_seed
        UNION ALL
        SELECT
            assumeNotNull(payload_agency_code)         AS code,
            assumeNotNull(valid_from)                  AS valid_from,
            ifNull(valid_to, toDate('2105-12-31'))     AS until,
            assumeNotNull(name)                        AS name,
            assumeNotNull(level)                       AS level,
            ifNull(parent_code, '')                    AS parent,
            ifNull(admin_unit_code, '')                AS unit,
            ifNull(successor_code, '')                 AS successor,
            concat('event:', toString(event_id))       AS source,
            toUInt64(toUnixTimestamp(occurred_at)) + 1 AS priority
        FROM events_reference
        WHERE event_type IN ('AgencyRegistered', 'AgencyChanged')
    ) AS versions
    GROUP BY code, valid_from
) AS merged;

-- Each agency version with its administrative unit and its parent agency as they stood over
-- the same days: one row per overlap, valid_from/valid_until the intersection. "Agency X's
-- unit and parent on D": WHERE agency_code = X AND D BETWEEN valid_from AND valid_until.
-- 18.16 joins one table per SELECT and only USING: hence the nesting and the renames.
CREATE VIEW IF NOT EXISTS v_agency_structure AS
SELECT
    agency_code,
    agency_name,
    level,
    nullIf(parent_key, '')                                               AS parent_code,
    parent_name,
    nullIf(unit_key, '')                                                 AS admin_unit_code,
    unit_name,
    unit_type,
    unit_parent_code,
    if(parent_from > from_1, parent_from, from_1)                        AS valid_from,
    if(parent_name != '' AND parent_until < until_1, parent_until, until_1) AS valid_until,
    nullIf(valid_until, toDate('2105-12-31'))                            AS valid_to
FROM
(
    SELECT
        agency_code,
        agency_name,
        level,
        parent_key,
        unit_key,
        unit_name,
        unit_type,
        unit_parent_code,
        if(unit_from > agency_from, unit_from, agency_from)                         AS from_1,
        if(unit_name != '' AND unit_until < agency_until, unit_until, agency_until) AS until_1
    FROM
    (
        SELECT
            code                        AS agency_code,
            name                        AS agency_name,
            level,
            ifNull(parent_code, '')     AS parent_key,
            ifNull(admin_unit_code, '') AS unit_key,
            valid_from                  AS agency_from,
            valid_until                 AS agency_until
        FROM dim_agencies
    ) AS agency
    ALL LEFT JOIN
    (
        SELECT
            code                        AS unit_key,
            name                        AS unit_name,
            type                        AS unit_type,
            parent_code                 AS unit_parent_code,
            valid_from                  AS unit_from,
            valid_until                 AS unit_until
        FROM dim_admin_units
    ) AS unit USING unit_key
    WHERE unit_name = '' OR (unit_from <= agency_until AND unit_until >= agency_from)
) AS agency_unit
ALL LEFT JOIN
(
    SELECT
        code                            AS parent_key,
        name                            AS parent_name,
        valid_from                      AS parent_from,
        valid_until                     AS parent_until
    FROM dim_agencies
) AS parent USING parent_key
WHERE parent_name = '' OR (parent_from <= until_1 AND parent_until >= from_1);
