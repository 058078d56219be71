//! The one loop every run goes through: the sampling tick, the workload's end, the stop
//! signals and the deadline, whichever comes first.

use super::recorder::Recorder;
use super::session::{End, Ending, Session, Step};
use super::signals::StopSignals;
use crate::error::Result;

/// Drives `session` until the deadline, its end, a stop signal or a monitor error; then
/// lets it stop the workload and closes the recording.
pub(crate) async fn drive<S: Session>(
    session: &mut S,
    mut rec: Recorder<'_>,
    mut stops: Option<&mut StopSignals>,
) -> Result<Ending> {
    let end = loop {
        tokio::select! {
            biased;
            s = next_stop(&mut stops) => break End::Signal(s),
            gone = session.ended(rec.started()) => if gone { break End::TargetGone },
            t = rec.next_tick() => {
                let (index, elapsed) = match t { Ok(t) => t, Err(end) => break end };
                match session.tick(elapsed).await {
                    Step::Sample(sample) => {
                        if let Err(end) = rec.record(elapsed, &sample) {
                            break end;
                        }
                    }
                    Step::Gone => break End::TargetGone,
                    Step::Failed(e) => break End::MonitorError(e),
                }
                if rec.deadline(index) {
                    break End::Deadline;
                }
            }
        }
    };
    let end = match end {
        End::TargetGone => match session.last_sample().await {
            Some(sample) => {
                let elapsed = rec.elapsed();
                match rec.record(elapsed, &sample) {
                    Ok(()) => End::TargetGone,
                    Err(failed) => failed,
                }
            }
            None => End::TargetGone,
        },
        other => other,
    };
    let elapsed_s = rec.elapsed();
    rec.clear_progress();
    let facts = session.finish(&end, elapsed_s, rec.taken()).await?;
    Ok(Ending {
        end,
        recorded: rec.finish(elapsed_s),
        facts,
    })
}

/// The next stop signal, or never (an in-process soak leaves Ctrl-C to the test runner).
async fn next_stop(stops: &mut Option<&mut StopSignals>) -> i32 {
    match stops {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
