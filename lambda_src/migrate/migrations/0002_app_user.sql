-- trading_app: the login of the intake, processor and health functions. It may read and
-- add trades, nothing else: no UPDATE or DELETE, so a stored trade cannot be altered by the
-- application, and no DDL (the processor never creates tables).
-- Roles are cluster-wide, so a second database of the same cluster finds it existing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trading_app') THEN
        CREATE ROLE trading_app LOGIN;
    END IF;
    -- rds_iam exists only on RDS and Aurora: membership makes the role log in with IAM
    -- tokens (no password exists). Elsewhere (the test server) a password is set by hand.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO trading_app;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO trading_app;
-- SELECT: INSERT ... RETURNING, and comparing a redelivered trade with the stored one.
GRANT SELECT, INSERT ON trades TO trading_app;
