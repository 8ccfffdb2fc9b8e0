//! Limit cells in Redis, shared by every instance (DESIGN §6): GCRA and concurrency
//! counters updated by Lua scripts, atomically, on Redis's clock. Every key starts
//! with `[storage] redis_prefix` and expires on its own.

use super::Effective;
use modelgate_core::limits::{Headroom, RateHeadroom};
use redis::aio::ConnectionManager;
use redis::Script;
use std::time::Duration;

/// GCRA in microseconds. ARGV: interval per unit, cost, window. Returns 0 when
/// admitted, else the microseconds until it would be.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
local limit = now + tonumber(ARGV[3])
if new_tat > limit then return math.ceil(new_tat - limit) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
return 0
";

/// Moves the arrival time back by `units` intervals.
const REFUND: &str = r"
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', tat - tonumber(ARGV[1]) * tonumber(ARGV[2])), 'KEEPTTL')
return 0
";

/// Corrects by ARGV[2] (signed) units of ARGV[1] microseconds: a refund moves the
/// arrival time back, a debt forward from now.
const CORRECT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local d = tonumber(ARGV[1]) * tonumber(ARGV[2])
if d < 0 then
  if tat == 0 then return 0 end
  tat = tat + d
else
  if tat < now then tat = now end
  tat = tat + d
end
local ttl = math.floor((tat - now) / 1000) + 1000
if ttl < 1000 then ttl = 1000 end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ttl)
return 0
";

/// How far each key's arrival time is ahead of now, in microseconds (0 when idle).
const PEEK: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, k in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', k) or '0')
  local used = tat - now
  if used < 0 then used = 0 end
  out[i] = math.floor(used)
end
return out
";

/// A concurrency slot; the counter expires if every holder died.
const TAKE_SLOT: &str = r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
";

const WINDOW_US: f64 = 60_000_000.0;
/// A request holding a slot longer than this (the longest upstream deadline) is
/// presumed dead with its instance.
const SLOT_TTL_MS: u64 = 15 * 60 * 1000;

#[derive(Clone)]
pub struct RedisCells {
    conn: ConnectionManager,
    prefix: String,
}

fn interval_us(per_minute: u64) -> f64 {
    WINDOW_US / per_minute.max(1) as f64
}

impl RedisCells {
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisCells, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| format!("cannot reach Redis at the configured redis_url: {e}"))?;
        Ok(RedisCells {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// A connection for other shared state (deployment health).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn key(&self, cell: &str, what: &str) -> String {
        format!("{}limits:{cell}:{what}", self.prefix)
    }

    async fn gcra(
        &self,
        cell: &str,
        what: &str,
        per_minute: u64,
        cost: u64,
    ) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let wait: Result<u64, _> = Script::new(ADMIT)
            .key(self.key(cell, what))
            .arg(interval_us(per_minute))
            .arg(cost.min(per_minute))
            .arg(WINDOW_US)
            .invoke_async(&mut self.conn.clone())
            .await;
        match wait {
            Ok(0) => Ok(()),
            Ok(us) => Err(Duration::from_micros(us)),
            // Redis unreachable: fail open, logged; limits are not worth an outage.
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit check in Redis failed; admitting");
                Ok(())
            }
        }
    }

    async fn refund_units(&self, cell: &str, what: &str, per_minute: u64, units: u64) {
        if per_minute == 0 || units == 0 {
            return;
        }
        let r: Result<i64, _> = Script::new(REFUND)
            .key(self.key(cell, what))
            .arg(interval_us(per_minute))
            .arg(units.min(per_minute))
            .invoke_async(&mut self.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "rate-limit refund in Redis failed");
        }
    }

    pub async fn admit(&self, cell: &str, limits: Effective, tokens: u64) -> Result<(), Duration> {
        if limits.max_concurrent > 0 {
            let took: Result<i64, _> = Script::new(TAKE_SLOT)
                .key(self.key(cell, "slots"))
                .arg(limits.max_concurrent)
                .arg(SLOT_TTL_MS)
                .invoke_async(&mut self.conn.clone())
                .await;
            if matches!(took, Ok(0)) {
                return Err(Duration::from_secs(1));
            }
        }
        if let Err(wait) = self.gcra(cell, "rpm", limits.rpm, 1).await {
            self.release_slot_if(cell, limits).await;
            return Err(wait);
        }
        if let Err(wait) = self.gcra(cell, "tpm", limits.tpm, tokens).await {
            self.refund_units(cell, "rpm", limits.rpm, 1).await;
            self.release_slot_if(cell, limits).await;
            return Err(wait);
        }
        Ok(())
    }

    async fn release_slot_if(&self, cell: &str, limits: Effective) {
        if limits.max_concurrent > 0 {
            self.release_slot(cell).await;
        }
    }

    pub async fn refund(&self, cell: &str, limits: Effective, requests: u64, tokens: u64) {
        self.refund_units(cell, "rpm", limits.rpm, requests).await;
        self.refund_units(cell, "tpm", limits.tpm, tokens).await;
    }

    /// tpm corrected to actual usage (`delta` = used - admitted).
    pub async fn correct_tokens(&self, cell: &str, limits: Effective, delta: i64) {
        if limits.tpm == 0 || delta == 0 {
            return;
        }
        let bound = i64::try_from(limits.tpm.saturating_mul(60)).unwrap_or(i64::MAX);
        let r: Result<i64, _> = Script::new(CORRECT)
            .key(self.key(cell, "tpm"))
            .arg(interval_us(limits.tpm))
            .arg(delta.clamp(-bound, bound))
            .invoke_async(&mut self.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "rate-limit correction in Redis failed");
        }
    }

    /// Where the cells stand now, the tighter of each limit (nothing is taken), read
    /// in one round trip; unknown when Redis fails.
    pub async fn headroom(&self, cells: &[(String, Effective)]) -> RateHeadroom {
        let peek = Script::new(PEEK);
        let mut script = peek.prepare_invoke();
        for (cell, _) in cells {
            script.key(self.key(cell, "rpm")).key(self.key(cell, "tpm"));
        }
        let used: Result<Vec<u64>, _> = script.invoke_async(&mut self.conn.clone()).await;
        let Ok(used) = used else {
            return RateHeadroom::default();
        };
        let at = |i: usize| Duration::from_micros(used.get(i).copied().unwrap_or(0));
        cells
            .iter()
            .enumerate()
            .map(|(i, (_, limits))| RateHeadroom {
                requests: Headroom::from_used(limits.rpm, at(2 * i)),
                tokens: Headroom::from_used(limits.tpm, at(2 * i + 1)),
            })
            .fold(RateHeadroom::default(), RateHeadroom::merge)
    }

    pub async fn release_slot(&self, cell: &str) {
        let r: Result<i64, _> = redis::cmd("DECR")
            .arg(self.key(cell, "slots"))
            .query_async(&mut self.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "releasing a concurrency slot in Redis failed; it expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs Redis (MODELGATE_TEST_REDIS, else the local default); `redis` in the
    /// name lets scripts/test.sh skip it where none runs.
    #[tokio::test]
    async fn headroom_reads_key_and_account_at_once_and_keeps_the_tighter_redis() {
        let url = std::env::var("MODELGATE_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("mg-test-headroom-{}:", std::process::id());
        let cells = RedisCells::connect(&url, &prefix).await.unwrap();
        let limits = |rpm, tpm| Effective {
            rpm,
            tpm,
            max_concurrent: 0,
        };
        let (key, account) = (limits(10, 0), limits(100, 1000));
        for _ in 0..4 {
            cells.admit("k:1", key, 50).await.unwrap();
            cells.admit("a:1", account, 50).await.unwrap();
        }
        let h = cells
            .headroom(&[("k:1".to_owned(), key), ("a:1".to_owned(), account)])
            .await;
        let requests = h.requests.unwrap();
        assert_eq!((requests.limit, requests.remaining), (10, 6));
        let tokens = h.tokens.unwrap();
        // 200 taken; a slow machine may have refilled a few since.
        assert_eq!(tokens.limit, 1000);
        assert!((800..810).contains(&tokens.remaining), "{tokens:?}");
        for k in ["k:1:rpm", "a:1:rpm", "a:1:tpm"] {
            let _: i64 = redis::cmd("DEL")
                .arg(format!("{prefix}limits:{k}"))
                .query_async(&mut cells.connection())
                .await
                .unwrap();
        }
    }
}
