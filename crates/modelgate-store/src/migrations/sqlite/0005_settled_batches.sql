-- Batches of usage records and charges already committed, by the writer's batch id:
-- a retry after a commit whose acknowledgement was lost (the connection broke) finds
-- its batch here and is not charged twice. Pruned after a day.
CREATE TABLE IF NOT EXISTS settled_batches (
    id TEXT PRIMARY KEY,
    settled_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS settled_batches_at ON settled_batches(settled_at)
