-- 0001: records, history, the change feed, conflicts, accounts, devices and
-- the store's identity (epoch, token secret).

CREATE TABLE ruhu_meta (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

-- ruhu_seq is the sequencer: one row, locked FOR UPDATE by every write
-- transaction before it writes, so sequence order is commit order and a
-- pull can never pass a change that commits later with a lower number.
CREATE TABLE ruhu_seq (
    id   int PRIMARY KEY CHECK (id = 1),
    last bigint NOT NULL
);
INSERT INTO ruhu_seq (id, last) VALUES (1, 0);

-- records holds each record's current state (syncengine.WireRecord JSON);
-- seq is its last change, so the change feed is this table in seq order
-- and each record appears once, at its last change.
CREATE TABLE records (
    collection text   NOT NULL,
    id         text   NOT NULL,
    area       text   NOT NULL,
    seq        bigint NOT NULL,
    body       bytea  NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE UNIQUE INDEX records_seq ON records (seq) INCLUDE (area);

-- ops is the history: every accepted op, whether or not it won.
CREATE TABLE ops (
    id         text   PRIMARY KEY,
    collection text   NOT NULL,
    record_id  text   NOT NULL,
    seq        bigint NOT NULL,
    digest     text   NOT NULL,
    body       bytea  NOT NULL
);
CREATE INDEX ops_record ON ops (collection, record_id, seq);

CREATE TABLE conflicts (
    id         text    PRIMARY KEY,
    collection text    NOT NULL,
    record_id  text    NOT NULL,
    field      text    NOT NULL,
    status     text    NOT NULL,
    body       bytea   NOT NULL
);
-- At most one open conflict per field of a record.
CREATE UNIQUE INDEX conflicts_open ON conflicts (collection, record_id, field) WHERE status = 'open';

-- assignments indexes active assignment records by officer and household,
-- so the visit check is one lookup.
CREATE TABLE assignments (
    officer       text NOT NULL,
    household     text NOT NULL,
    assignment_id text NOT NULL,
    PRIMARY KEY (officer, household, assignment_id)
);

CREATE TABLE users (
    username text  PRIMARY KEY,
    body     jsonb NOT NULL
);

CREATE TABLE devices (
    id           text  PRIMARY KEY,
    refresh_hash text  UNIQUE,
    body         jsonb NOT NULL
);
