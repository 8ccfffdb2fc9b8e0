CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    balance_nano BIGINT NOT NULL DEFAULT 0,
    leased_nano BIGINT NOT NULL DEFAULT 0,
    allowed_models TEXT,
    rpm BIGINT,
    tpm BIGINT,
    max_concurrent BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    allowed_models TEXT,
    rpm BIGINT,
    tpm BIGINT,
    max_concurrent BIGINT,
    max_spend_nano BIGINT,
    spend_period TEXT NOT NULL DEFAULT 'total',
    expires_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys(account_id);

CREATE TABLE IF NOT EXISTS ledger (
    id BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    key_id TEXT,
    amount_nano BIGINT NOT NULL,
    kind TEXT NOT NULL,
    request_id TEXT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger(account_id, id);

CREATE TABLE IF NOT EXISTS usage_records (
    request_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    images BIGINT NOT NULL,
    cost_nano BIGINT NOT NULL,
    status BIGINT NOT NULL,
    error_type TEXT,
    latency_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_account_time ON usage_records(account_id, created_at DESC, request_id DESC);

CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Bumped by every change to accounts or keys: instances poll it to refresh caches.
CREATE TABLE IF NOT EXISTS change_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO change_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;

-- Balance leases: see the SQLite migration 0002 for the design.
CREATE TABLE IF NOT EXISTS balance_leases (
    instance_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount_nano BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (instance_id, account_id)
);

CREATE TABLE IF NOT EXISTS key_spend (
    key_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    spent_nano BIGINT NOT NULL,
    PRIMARY KEY (key_id, period_start)
);
