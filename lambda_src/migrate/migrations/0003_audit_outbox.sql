-- The audit outbox: one row per trade batch, holding the batch's audit object (JSON Lines)
-- until the shipper function has put it into the region's audit bucket.
--
-- The processor inserts the row in the same transaction as the batch's trades, so the
-- audit and the rows it describes commit together or not at all: a trade can never be
-- stored without its "stored" audit line, even when S3 is unreachable. The row is then
-- part of the Aurora global database and replicates with the trades (RPO ~1 s) instead of
-- waiting for S3 replication. The shipper (every minute) puts each object under
-- object_key and deletes the row; a put repeated after a lost delete writes the same key
-- with the same bytes.
CREATE TABLE audit_outbox (
    object_key  text        PRIMARY KEY,
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The shipper drains oldest first and reports the oldest row's age.
CREATE INDEX audit_outbox_created_at ON audit_outbox (created_at);

COMMENT ON TABLE audit_outbox IS
    'Audit objects of trade batches, committed with the trades, waiting to be put into S3';

-- The processor only adds audit objects (ON CONFLICT DO NOTHING needs no more than INSERT).
GRANT INSERT ON audit_outbox TO trading_app;

-- trading_audit: the shipper's login. It reads and removes outbox rows and nothing else:
-- it cannot read, add or change a trade.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trading_audit') THEN
        CREATE ROLE trading_audit LOGIN;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO trading_audit;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO trading_audit;
GRANT SELECT, DELETE ON audit_outbox TO trading_audit;
