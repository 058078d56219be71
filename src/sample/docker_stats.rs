//! The container engine's stats API as a source, for containers whose cgroup soak
//! cannot read: a task keeps the stream's latest reading; each tick takes it.

use super::Sample;
use futures_util::{Stream, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why the engine's stats stream gave no reading.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StatsError(pub String);

struct FeedState {
    stats: Option<bollard::container::Stats>,
    readings: u64,
    ended: Option<String>,
}

/// The latest reading of a container's stats stream.
pub struct StatsFeed {
    latest: std::sync::Arc<std::sync::Mutex<FeedState>>,
    task: tokio::task::JoinHandle<()>,
    /// Where each column comes from (the engine's address and why not the cgroup).
    sources: BTreeMap<String, String>,
}

/// The stream as a source. A stream that ended is an error here: whether the container
/// is gone or the engine failed is the session's call (it asks the engine).
impl super::Source for StatsFeed {
    fn read(&mut self) -> std::io::Result<Option<Sample>> {
        self.latest().map(|(s, _)| s).map_err(std::io::Error::other)
    }

    fn sources(&self) -> BTreeMap<String, String> {
        self.sources.clone()
    }
}

impl StatsFeed {
    /// Takes the first reading of `stream` (waiting up to 10 s) and keeps the latest one
    /// from a task of the runtime; `why` turns the engine's errors into words, `sources`
    /// says where each column comes from.
    pub async fn subscribe<S, E>(
        stream: S,
        why: fn(&E) -> String,
        sources: BTreeMap<String, String>,
    ) -> Result<StatsFeed, StatsError>
    where
        S: Stream<Item = Result<bollard::container::Stats, E>> + Send + 'static,
        E: Send + 'static,
    {
        let mut stream = Box::pin(stream);
        let first = match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(s))) => s,
            Ok(Some(Err(e))) => return Err(StatsError(why(&e))),
            Ok(None) => return Err(StatsError("the engine closed the stats stream".into())),
            Err(_) => return Err(StatsError("no stats from the engine within 10 s".into())),
        };
        let latest = std::sync::Arc::new(std::sync::Mutex::new(FeedState {
            stats: Some(first),
            readings: 1,
            ended: None,
        }));
        let feed = latest.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let mut st = feed.lock().unwrap_or_else(|e| e.into_inner());
                match item {
                    Ok(s) => {
                        st.stats = Some(s);
                        st.readings += 1;
                    }
                    Err(e) => {
                        st.ended = Some(why(&e));
                        return;
                    }
                }
            }
            let mut st = feed.lock().unwrap_or_else(|e| e.into_inner());
            st.ended = Some("the engine closed the stats stream".into());
        });
        Ok(StatsFeed {
            latest,
            task,
            sources,
        })
    }

    /// The latest reading as a sample, how many readings the engine has sent so far,
    /// or why the stream ended.
    pub fn latest(&self) -> Result<(Option<Sample>, u64), StatsError> {
        let st = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &st.ended {
            return Err(StatsError(why.clone()));
        }
        Ok((
            st.stats.as_ref().and_then(super::cgroup::from_api),
            st.readings,
        ))
    }
}

impl Drop for StatsFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}
