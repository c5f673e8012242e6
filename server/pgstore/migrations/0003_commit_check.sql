-- 0003: what a write transaction needs to take the sequencer, check what it
-- read before, write and commit in one round trip (server/pgstore
-- deferred.go): a function that aborts the transaction when a read
-- changed. SQLSTATE 40001 (serialization_failure) is what it is; the
-- store runs the transaction again.
CREATE FUNCTION ruhu_reads_changed() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ruhu: rows this transaction read changed before it took the sequencer'
        USING ERRCODE = 'serialization_failure';
END
$$;
