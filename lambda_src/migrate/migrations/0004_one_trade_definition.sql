-- One definition of a valid trade: the rules of lambda_src/shared/trading_shared/trade.py,
-- which intake and the processor enforce, stated by the schema too, so that no writer can
-- store what the API refuses and the API accepts nothing the schema would refuse
-- (tests/lambda_src/test_trade_definition.py proves the three agree).
--
-- Amounts: NUMERIC(20, 8) rounded a ninth decimal place away instead of refusing it. The
-- columns become unconstrained NUMERIC (exact, whatever is written) and the CHECKs state the
-- rule by value: greater than 0, below 10^12, a whole number of 10^-8. Dropping a numeric
-- type modifier needs no table rewrite (PostgreSQL's numeric_support), and every stored
-- value already satisfies the rule, so the new CHECKs only scan the table once.
-- NaN and Infinity fail `< 1e12`.
ALTER TABLE trades
    ALTER COLUMN quantity TYPE numeric,
    ALTER COLUMN limit_price TYPE numeric,
    ADD CONSTRAINT quantity_in_range
        CHECK (quantity > 0 AND quantity < 1e12 AND quantity = round(quantity, 8)),
    ADD CONSTRAINT limit_price_in_range
        CHECK (limit_price > 0 AND limit_price < 1e12 AND limit_price = round(limit_price, 8)),
    -- Timestamps from 2000 to before 2100 UTC: outside that a clock is broken or a value made up.
    ADD CONSTRAINT client_timestamp_in_range
        CHECK (client_timestamp >= TIMESTAMPTZ '2000-01-01 00:00:00+00'
               AND client_timestamp < TIMESTAMPTZ '2100-01-01 00:00:00+00');
-- The text patterns of 0001 already match whole strings: PostgreSQL's `$` is the end of the
-- string (it does not match before a final newline, as Python's does).
