//! Deployment health shared through Redis (DESIGN §6): every `SYNC_EVERY`, this
//! instance publishes the circuits it opened (a key per deployment, expiring when the
//! cool-down ends) and opens locally the circuits other instances published, so that
//! all instances stop sending to a failing deployment within a tick — with no Redis
//! round trip on the request path. A circuit this instance closes again (a successful
//! probe) is withdrawn.

use crate::state::Inner;
use modelgate_core::router::health::HealthTracker;
use redis::aio::ConnectionManager;
use std::collections::HashSet;
use std::sync::Weak;
use std::time::{Duration, Instant};

pub const SYNC_EVERY: Duration = Duration::from_millis(500);

pub struct HealthSync {
    conn: ConnectionManager,
    /// (deployment index, Redis key), stable names shared by every instance.
    keys: Vec<(usize, String)>,
    published: HashSet<usize>,
}

impl HealthSync {
    pub fn new(
        conn: ConnectionManager,
        prefix: &str,
        deployments: Vec<(usize, String)>,
    ) -> HealthSync {
        let keys = deployments
            .into_iter()
            .map(|(d, name)| (d, format!("{prefix}health:{name}")))
            .collect();
        HealthSync {
            conn,
            keys,
            published: HashSet::new(),
        }
    }

    pub async fn run(mut self, state: Weak<Inner>) {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        loop {
            tick.tick().await;
            let Some(inner) = state.upgrade() else { return };
            if let Err(e) = self.sync(&inner.health).await {
                tracing::warn!(error = %e, "sharing deployment health through Redis failed");
            }
        }
    }

    async fn sync(&mut self, health: &HealthTracker) -> redis::RedisResult<()> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut pipe = redis::pipe();
        for (deployment, key) in &self.keys {
            match health.is_open(*deployment, now) {
                Some(left) if !self.published.contains(deployment) => {
                    let ms = left.as_millis().max(1) as u64;
                    pipe.cmd("SET").arg(key).arg(1).arg("PX").arg(ms).ignore();
                    self.published.insert(*deployment);
                }
                None if self.published.remove(deployment) => {
                    pipe.cmd("DEL").arg(key).ignore();
                }
                _ => {}
            }
        }
        for (_, key) in &self.keys {
            pipe.cmd("PTTL").arg(key);
        }
        let ttls: Vec<i64> = pipe.query_async(&mut self.conn).await?;
        for ((deployment, _), ttl) in self.keys.iter().zip(ttls) {
            if ttl > 0 && !self.published.contains(deployment) {
                health.open_for(*deployment, now, Duration::from_millis(ttl as u64));
            }
        }
        Ok(())
    }
}
