//! Shared state of one gateway process, built once at start.

use crate::auth::AuthCache;
use crate::billing::{LeaseTiming, Ledger};
use crate::limits::{Limiter, RedisCells};
use crate::tasks::Tasks;
use crate::usage::{Backlog, UsageSink};
use modelgate_core::catalog::Catalog;
use modelgate_core::config::ConfigFile;
use modelgate_core::router::health::HealthTracker;
use modelgate_core::secret::Secret;
use modelgate_providers::Providers;
use modelgate_store::Store;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub struct StateOptions {
    pub config: ConfigFile,
    pub catalog: Catalog,
    pub store: Arc<dyn Store>,
    pub admin_token: Option<Secret>,
    /// The Prometheus recorder's handle; `None` leaves /metrics answering 503.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

pub struct Inner {
    pub config: ConfigFile,
    pub catalog: Catalog,
    pub providers: Providers,
    pub store: Arc<dyn Store>,
    pub auth: AuthCache,
    pub health: HealthTracker,
    pub admin_token: Option<Secret>,
    pub usage: UsageSink,
    pub ledger: Arc<Ledger>,
    pub limiter: Arc<Limiter>,
    pub idempotency: Arc<crate::idempotency::Idempotency>,
    pub tasks: Tasks,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads the caches and starts the background work (cache refresh, usage writer).
    pub async fn start(opts: StateOptions) -> Result<AppState, String> {
        let providers = Providers::new(opts.catalog.providers().map(|p| p.as_ref()))
            .map_err(|e| e.to_string())?;
        let health = HealthTracker::new(
            opts.catalog.deployment_count(),
            opts.config.health.consecutive_failures,
            Duration::from_millis(opts.config.health.cooldown_ms),
        );
        let tasks = Tasks::default();
        let backlog = Backlog::new(opts.config.storage.max_unwritten_records);
        let ledger = Arc::new(Ledger::new(
            Arc::clone(&opts.store),
            crate::request_id::new_request_id().replacen("req_", "gw_", 1),
            backlog.clone(),
            tasks.clone(),
            LeaseTiming {
                ttl: Duration::from_millis(opts.config.storage.lease_ttl_ms.max(1000)),
            },
        ));
        let usage = UsageSink::start(Arc::clone(&opts.store), Arc::clone(&ledger), backlog);
        let redis = match &opts.config.storage.redis_url {
            Some(url) => Some(RedisCells::connect(url, &opts.config.storage.redis_prefix).await?),
            None => None,
        };
        let health_sync = redis.as_ref().map(|r| {
            crate::health_sync::HealthSync::new(
                r.connection(),
                &opts.config.storage.redis_prefix,
                opts.catalog.deployments(),
            )
        });
        let idempotency = Arc::new(crate::idempotency::Idempotency::new(
            redis.as_ref().map(|r| {
                crate::idempotency::RemoteRecords::new(
                    r.connection(),
                    &opts.config.storage.redis_prefix,
                )
            }),
            usize::try_from(opts.config.idempotency.max_bytes).unwrap_or(usize::MAX),
            tasks.clone(),
        ));
        let limiter = Limiter::new(opts.config.limits, redis, tasks.clone());
        let auth = AuthCache::default();
        auth.install(opts.store.snapshot().await.map_err(|e| e.to_string())?);
        let state = AppState(Arc::new(Inner {
            config: opts.config,
            catalog: opts.catalog,
            providers,
            store: opts.store,
            auth,
            health,
            admin_token: opts.admin_token,
            usage,
            ledger,
            limiter,
            idempotency,
            tasks,
            metrics: opts.metrics,
        }));
        if let Some(sync) = health_sync {
            tokio::spawn(sync.run(Arc::downgrade(&state.0)));
        }
        let weak = Arc::downgrade(&state.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::auth::REFRESH_EVERY);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = inner.auth.refresh(inner.store.as_ref()).await {
                    tracing::warn!(error = %e, "refreshing the key cache failed; serving the last one");
                }
            }
        });
        let weak = Arc::downgrade(&state.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            for n in 0u64.. {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                inner.ledger.maintain(n).await;
            }
        });
        Ok(state)
    }

    /// Applies a change made through this instance at once (others poll).
    pub async fn refresh_now(&self) {
        if let Err(e) = self.auth.refresh(self.store.as_ref()).await {
            tracing::warn!(error = %e, "refreshing the key cache failed");
        }
    }

    pub fn docs_base_url(&self) -> Option<&str> {
        self.config.server.docs_base_url.as_deref()
    }

    /// How long a client gets to send a whole request body.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.config.server.body_timeout_ms.max(1))
    }
}
