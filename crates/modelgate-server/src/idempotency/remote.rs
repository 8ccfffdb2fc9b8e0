//! Idempotency records in Redis, so that a repeat reaching another instance is
//! deduplicated too (DESIGN §6). Plain answers only; streams stay resumable on the
//! instance that runs them. The in-flight marker is a lease renewed while the request
//! runs, so a crashed instance never pins a key at 409.

use super::Stored;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
const KEEP_FOR_MS: u64 = 24 * 3600 * 1000;

/// Deletes the marker only while it is still this request's in-flight lease.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Extends the marker only while it is still this request's lease: a renewal racing
/// the final `SET` must not cut the stored answer's 24 h down to the lease (a repeat
/// would then run, and be billed, again), nor keep another instance's marker alive.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    InFlight {
        fp: String,
    },
    Done {
        fp: String,
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A keyed stream: running (an in-flight lease) or done; its events are in the
    /// Redis stream at `events_key`.
    Streaming {
        fp: String,
        done: bool,
    },
}

#[derive(Clone)]
pub struct RemoteRecords {
    conn: ConnectionManager,
    prefix: String,
}

pub(super) enum Claim {
    /// This request holds the key now.
    Run(Lease),
    InFlight {
        same_body: bool,
    },
    Done {
        same_body: bool,
        stored: Stored,
    },
    Streaming {
        same_body: bool,
        done: bool,
        follow: RemoteFollowAt,
    },
}

/// Where another instance finds a keyed stream's events.
pub(super) struct RemoteFollowAt {
    pub records: RemoteRecords,
    pub record_key: String,
    pub events_key: String,
}

/// The events of the stream recorded under `record_key`.
fn events_key_of(record_key: &str) -> String {
    format!("{record_key}:events")
}

/// The in-flight marker, renewed until finished or dropped.
pub(super) struct Lease {
    records: RemoteRecords,
    key: String,
    marker: String,
    renew: tokio::task::AbortHandle,
}

/// One renewal of `marker`'s lease on `key`: 1 when renewed, 0 when it is no longer ours.
async fn renew(conn: &mut ConnectionManager, key: &str, marker: &str) -> redis::RedisResult<i64> {
    redis::Script::new(RENEW)
        .key(key)
        .arg(marker)
        .arg(LEASE.as_millis() as u64)
        .invoke_async(conn)
        .await
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

impl RemoteRecords {
    pub fn new(conn: ConnectionManager, prefix: &str) -> RemoteRecords {
        RemoteRecords {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    /// Claims the key for a plain request, or (`stream`) for a keyed stream.
    pub(super) async fn claim(
        &self,
        account: &str,
        key: &str,
        fingerprint: &str,
        stream: bool,
    ) -> redis::RedisResult<Claim> {
        let redis_key = format!(
            "{}idem:{account}:{}",
            self.prefix,
            modelgate_store::hash_key(key)
        );
        let marker = if stream {
            Record::Streaming {
                fp: fingerprint.to_owned(),
                done: false,
            }
        } else {
            Record::InFlight {
                fp: fingerprint.to_owned(),
            }
        };
        let marker = serde_json::to_string(&marker).unwrap_or_default();
        for _ in 0..2 {
            let set: Option<String> = redis::cmd("SET")
                .arg(&redis_key)
                .arg(&marker)
                .arg("NX")
                .arg("PX")
                .arg(LEASE.as_millis() as u64)
                .query_async(&mut self.conn.clone())
                .await?;
            if set.is_some() {
                return Ok(Claim::Run(self.lease(redis_key, marker)));
            }
            let existing: Option<String> = redis::cmd("GET")
                .arg(&redis_key)
                .query_async(&mut self.conn.clone())
                .await?;
            match existing.and_then(|v| serde_json::from_str::<Record>(&v).ok()) {
                Some(Record::InFlight { fp }) => {
                    return Ok(Claim::InFlight {
                        same_body: fp == fingerprint,
                    })
                }
                Some(Record::Done {
                    fp,
                    status,
                    headers,
                    body,
                }) => {
                    let stored = Stored {
                        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                        headers: headers
                            .into_iter()
                            .filter_map(|(k, v)| {
                                Some((
                                    HeaderName::try_from(k).ok()?,
                                    HeaderValue::try_from(v).ok()?,
                                ))
                            })
                            .collect::<HeaderMap>(),
                        body: base64::engine::general_purpose::STANDARD
                            .decode(body)
                            .unwrap_or_default()
                            .into(),
                    };
                    return Ok(Claim::Done {
                        same_body: fp == fingerprint,
                        stored,
                    });
                }
                Some(Record::Streaming { fp, done }) => {
                    return Ok(Claim::Streaming {
                        same_body: fp == fingerprint,
                        done,
                        follow: RemoteFollowAt {
                            records: self.clone(),
                            events_key: events_key_of(&redis_key),
                            record_key: redis_key,
                        },
                    })
                }
                // Expired between SET and GET: try to claim once more.
                None => continue,
            }
        }
        Ok(Claim::InFlight { same_body: true })
    }

    fn lease(&self, key: String, marker: String) -> Lease {
        let (conn, renew_key, renew_marker) = (self.conn.clone(), key.clone(), marker.clone());
        let renew = tokio::spawn(async move {
            let mut conn = conn;
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let _ = renew(&mut conn, &renew_key, &renew_marker).await;
            }
        })
        .abort_handle();
        Lease {
            records: self.clone(),
            key,
            marker,
            renew,
        }
    }
}

impl RemoteRecords {
    /// Appends one event with its own id; the stream lives as long as its record.
    pub(super) async fn append(&self, events_key: &str, id: u64, event: &[u8]) {
        let r: redis::RedisResult<()> = redis::pipe()
            .cmd("XADD")
            .arg(events_key)
            .arg(format!("0-{id}"))
            .arg("e")
            .arg(event)
            .ignore()
            .cmd("PEXPIRE")
            .arg(events_key)
            .arg(KEEP_FOR_MS)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "appending a keyed stream's event to Redis failed; a resume on another instance may miss it");
        }
    }

    /// Entries after event `after`, oldest first.
    pub(super) async fn range_after(
        &self,
        events_key: &str,
        after: u64,
    ) -> redis::RedisResult<Vec<super::remote_stream::Entry>> {
        let raw: Vec<(String, std::collections::HashMap<String, Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(events_key)
            .arg(format!("(0-{after}"))
            .arg("+")
            .arg("COUNT")
            .arg(256)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(super::remote_stream::parse_entries(raw))
    }

    pub(super) async fn exists(&self, key: &str) -> bool {
        let n: redis::RedisResult<i64> = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await;
        // Unknown is not gone: the follower's staleness bound ends it.
        n.map_or(true, |n| n > 0)
    }

    pub(super) async fn delete(&self, key: &str) {
        let _: redis::RedisResult<i64> = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await;
    }
}

impl Lease {
    pub(super) fn records(&self) -> &RemoteRecords {
        &self.records
    }

    pub(super) fn events_key(&self) -> String {
        events_key_of(&self.key)
    }

    /// The stream ended with a final outcome: an end marker after its events, and the
    /// record kept for 24 h so that every instance replays it.
    pub(super) async fn store_stream_done(self, fingerprint: &str) {
        let record = serde_json::to_string(&Record::Streaming {
            fp: fingerprint.to_owned(),
            done: true,
        })
        .unwrap_or_default();
        let events = self.events_key();
        let r: redis::RedisResult<()> = redis::pipe()
            .cmd("XADD")
            .arg(&events)
            .arg("*")
            .arg("end")
            .arg("1")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&events)
            .arg(KEEP_FOR_MS)
            .ignore()
            .cmd("SET")
            .arg(&self.key)
            .arg(record)
            .arg("PX")
            .arg(KEEP_FOR_MS)
            .ignore()
            .query_async(&mut self.records.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "finishing a keyed stream in Redis failed; a repeat elsewhere may run again");
        }
    }

    pub async fn store(self, fingerprint: &str, stored: &Stored) {
        let record = Record::Done {
            fp: fingerprint.to_owned(),
            status: stored.status.as_u16(),
            headers: stored
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(&stored.body),
        };
        let value = serde_json::to_string(&record).unwrap_or_default();
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(&self.key)
            .arg(value)
            .arg("PX")
            .arg(KEEP_FOR_MS)
            .query_async(&mut self.records.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "storing an idempotent answer in Redis failed; a repeat will run again");
        }
    }

    pub async fn release(self) {
        let r: redis::RedisResult<i64> = redis::Script::new(RELEASE)
            .key(&self.key)
            .arg(&self.marker)
            .invoke_async(&mut self.records.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "releasing an idempotency key in Redis failed; its lease expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs Redis (MODELGATE_TEST_REDIS, else the local default); `redis` in the
    /// name lets scripts/test.sh skip it where none runs.
    #[tokio::test]
    async fn a_late_renewal_never_shortens_the_stored_answer_redis() {
        let url = std::env::var("MODELGATE_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url).unwrap();
        let mut conn = ConnectionManager::new(client).await.unwrap();
        let key = format!("mg-test-renew:{}", std::process::id());
        let ttl = |mut c: ConnectionManager, k: String| async move {
            redis::cmd("PTTL")
                .arg(k)
                .query_async::<i64>(&mut c)
                .await
                .unwrap()
        };
        // The answer was stored for 24 h just before the lease's renewal ran.
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("{\"state\":\"done\"}")
            .arg("PX")
            .arg(KEEP_FOR_MS)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(renew(&mut conn, &key, "lease").await.unwrap(), 0);
        assert!(ttl(conn.clone(), key.clone()).await > 3_600_000);
        // While the marker is still ours, it is renewed.
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("lease")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(renew(&mut conn, &key, "lease").await.unwrap(), 1);
        let left = ttl(conn.clone(), key.clone()).await;
        assert!(left > 0 && left <= LEASE.as_millis() as i64, "{left}");
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
