-- 0002: what the HTTP server keeps beside the core's tables: evidence blob
-- facts (and the claim of the photo processing queue), resumable upload
-- state, web console sessions, the audit chain, and what area scans and
-- reports read (a C-collated area for prefix ranges, the tombstone flag,
-- each op's receipt time).

-- Area codes are compared as bytes: a prefix is the range [p, p+1).
ALTER TABLE records ALTER COLUMN area TYPE text COLLATE "C";
ALTER TABLE records ADD COLUMN deleted boolean NOT NULL DEFAULT false;
UPDATE records SET deleted = true
 WHERE coalesce(convert_from(body, 'UTF8')::jsonb #> '{f,_deleted,v}', 'null'::jsonb) <> 'null'::jsonb;
CREATE INDEX records_area ON records (collection, area, id);

ALTER TABLE ops ADD COLUMN received_at bigint;
UPDATE ops SET received_at = (convert_from(body, 'UTF8')::jsonb ->> 'received_at')::bigint;
ALTER TABLE ops ALTER COLUMN received_at SET NOT NULL;

-- blobs holds core.Blob JSON by sha256. A blob in processing is a job of
-- the photo queue: an instance claims it until claimed_until (renewed
-- while it works), so a job whose instance died is taken up again.
CREATE TABLE blobs (
    sha256        text        PRIMARY KEY,
    status        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    claimed_by    text,
    claimed_until timestamptz,
    body          jsonb       NOT NULL
);
CREATE INDEX blobs_processing ON blobs (created_at) WHERE status = 'processing';

-- uploads holds core.Upload JSON: the tus upload state every instance
-- reads, so an upload begun on one is finished on another.
CREATE TABLE uploads (
    id         text        PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    body       jsonb       NOT NULL
);

-- web_sessions holds core.WebSession JSON keyed by the hash of the cookie.
CREATE TABLE web_sessions (
    key        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    body       jsonb       NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- audit is the hash-chained audit log (audit.Entry.Marshal by sequence).
-- Writers append under the sequencer lock, so the chain has one head.
CREATE TABLE audit (
    seq  bigint PRIMARY KEY,
    body bytea  NOT NULL
);
