-- Trades, one row per trade_id (the client-chosen idempotency key). The processor inserts
-- with ON CONFLICT (trade_id) DO NOTHING, so the primary key is what makes delivery
-- exactly-once in storage. The checks repeat the intake validation so that no code path
-- can store what the API would have refused.
CREATE TABLE trades (
    trade_id          uuid          PRIMARY KEY,
    account_id        text          NOT NULL
        CHECK (account_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    symbol            text          NOT NULL CHECK (symbol ~ '^[A-Z][A-Z0-9.-]{0,15}$'),
    side              text          NOT NULL CHECK (side IN ('BUY', 'SELL')),
    order_type        text          NOT NULL CHECK (order_type IN ('MARKET', 'LIMIT')),
    -- NUMERIC(20, 8): exact, never rounded; the API accepts at most 8 decimal places.
    quantity          numeric(20, 8) NOT NULL CHECK (quantity > 0),
    limit_price       numeric(20, 8) CHECK (limit_price > 0),
    client_timestamp  timestamptz   NOT NULL,
    -- The region whose processor stored the row: shows which side of a failover wrote it.
    processed_region  text          NOT NULL,
    stored_at         timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT limit_price_only_for_limit_orders
        CHECK ((order_type = 'LIMIT') = (limit_price IS NOT NULL))
);

CREATE INDEX trades_account_time ON trades (account_id, client_timestamp);

COMMENT ON TABLE trades IS 'Accepted trades, written once per trade_id by the trade processor';
