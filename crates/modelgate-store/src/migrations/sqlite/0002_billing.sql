-- Balance leases: an instance reserves from its lease in memory and settles in
-- batches, so that no request needs a database round trip and concurrent instances
-- can never overdraw (leased_nano never exceeds balance_nano at grant time).
ALTER TABLE accounts ADD COLUMN leased_nano INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS balance_leases (
    instance_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount_nano INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (instance_id, account_id)
);

-- Spend per key and period start (0 for lifetime limits), for max_spend_usd.
CREATE TABLE IF NOT EXISTS key_spend (
    key_id TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    spent_nano INTEGER NOT NULL,
    PRIMARY KEY (key_id, period_start)
);
