-- Key spend limits leased like balances, so that they hold exactly across instances:
-- leased_nano never exceeds the limit less what was spent at grant time.
ALTER TABLE key_spend ADD COLUMN leased_nano BIGINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS key_leases (
    instance_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    amount_nano BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (instance_id, key_id, period_start)
)
