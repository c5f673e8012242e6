-- 0004: records (current state and the change feed) and ops (history)
-- are partitioned by county code, the first 6 digits of the area code, so
-- a county's pull, report and area scans read only its partition.
--
-- HASH (county) with a fixed modulus of 16: every county has a partition
-- from the start, so no DDL runs while the server runs (LIST partitions
-- would need one created before a county's first write). Rows of several
-- counties share a partition; every query that knows its county names it,
-- so the planner prunes the other 15.
--
-- A unique index on a partitioned table must hold the partition key, so
-- the keys that are unique across counties live in two small
-- unpartitioned tables, written with each new record and op:
-- record_keys (collection, id) and op_keys (id). Each says where its row
-- is through an index the partition needs anyway, so the partitions have
-- no primary key of their own (an index entry fewer per record and op,
-- written while the sequencer is held): record_keys holds the record's
-- area, which finds it in its county's (collection, area, id) index;
-- op_keys holds the op's county, collection, record id and sequence,
-- which find it in its county's (collection, record_id, seq) index. The
-- key tables' primary keys are what keeps a record or op from being
-- stored twice: every new row is written with its key in one statement.
-- A lookup without an area goes through them to the one partition; a
-- record id or op id reused in another county still finds the row
-- already stored (and syncengine refuses the area change) rather than
-- making a second one.
--
-- The sequencer (ruhu_seq) stays global: a county's feed is the global
-- feed filtered by county, gap-free as the whole one is.
--
-- Existing rows move: new tables are filled from the old ones (an op's
-- county is its record's, else the area in its stored JSON), the old ones
-- are dropped, the new ones renamed, and their keys and indexes built.

CREATE TABLE records_new (
    county     text    COLLATE "C" NOT NULL,
    collection text    NOT NULL,
    id         text    NOT NULL,
    area       text    COLLATE "C" NOT NULL,
    seq        bigint  NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    body       bytea   NOT NULL
) PARTITION BY HASH (county);

CREATE TABLE ops_new (
    county      text   COLLATE "C" NOT NULL,
    id          text   NOT NULL,
    collection  text   NOT NULL,
    record_id   text   NOT NULL,
    seq         bigint NOT NULL,
    digest      text   NOT NULL,
    received_at bigint NOT NULL,
    body        bytea  NOT NULL
) PARTITION BY HASH (county);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE records_p%s PARTITION OF records_new FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(i::text, 2, '0'), i);
        EXECUTE format('CREATE TABLE ops_p%s PARTITION OF ops_new FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(i::text, 2, '0'), i);
    END LOOP;
END
$$;

INSERT INTO records_new (county, collection, id, area, seq, deleted, body)
SELECT left(area, 6), collection, id, area, seq, deleted, body FROM records;

INSERT INTO ops_new (county, id, collection, record_id, seq, digest, received_at, body)
SELECT coalesce(left(r.area, 6), left(convert_from(o.body, 'UTF8')::jsonb ->> 'area', 6), ''),
       o.id, o.collection, o.record_id, o.seq, o.digest, o.received_at, o.body
  FROM ops o LEFT JOIN records r ON r.collection = o.collection AND r.id = o.record_id;

-- record_keys: one row per record, whatever its county, with its area
-- (its county is left(area, 6)).
CREATE TABLE record_keys (
    collection text NOT NULL,
    id         text NOT NULL,
    area       text COLLATE "C" NOT NULL,
    PRIMARY KEY (collection, id)
);
INSERT INTO record_keys (collection, id, area) SELECT collection, id, area FROM records_new;

-- op_keys: one row per accepted op, whatever its county, with what finds
-- it in ops_record of its county's partition.
CREATE TABLE op_keys (
    id         text   PRIMARY KEY,
    county     text   COLLATE "C" NOT NULL,
    collection text   NOT NULL,
    record_id  text   NOT NULL,
    seq        bigint NOT NULL
);
INSERT INTO op_keys (id, county, collection, record_id, seq) SELECT id, county, collection, record_id, seq FROM ops_new;

DROP TABLE records;
DROP TABLE ops;
ALTER TABLE records_new RENAME TO records;
ALTER TABLE ops_new RENAME TO ops;

-- The whole feed walks seq across the partitions (a merge of their seq
-- indexes); a county's walks (county, seq) in its partition; area scans
-- and lookups by key (through record_keys) read (collection, area, id).
CREATE INDEX records_seq ON records (seq);
CREATE INDEX records_county_seq ON records (county, seq);
CREATE INDEX records_area ON records (collection, area, id);

-- History by record, and lookups by op id (through op_keys).
CREATE INDEX ops_record ON ops (collection, record_id, seq);

ANALYZE records;
ANALYZE ops;
ANALYZE record_keys;
ANALYZE op_keys;
