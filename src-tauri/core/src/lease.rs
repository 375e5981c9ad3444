//! Leases on streams and jobs (DESIGN.md §4, §9): which process runs one, and proof that it
//! still does.
//!
//! Every process has an instance id ([`crate::Twitcher::instance_id`]). The rows it inserts or
//! claims carry it in `owner_instance`, and one task per process renews all of its leases every
//! 2 s (`EngineOptions::lease_renew_every`) in a single statement — a broadcast still preparing
//! has a lease as much as one on air. A lease not renewed for [`expires_after`] (10 s) belongs to
//! nobody: recovery (in any process) may take the stream over, and until then no other process
//! touches it. Status writes are guarded by the lease (`… AND owner_instance = me`), so a process
//! that lost a stream cannot overwrite what the new owner records; its supervisor notices on its
//! next tick and stops publishing that destination.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Twitcher;

/// How old a heartbeat must be before the stream may be taken over: five renewals missed.
pub fn expires_after(app: &Twitcher) -> Duration {
    app.options().engine.lease_renew_every * 5
}

/// The lease renewal's name in the health table.
pub const TASK: &str = "lease renewal";

/// Starts this process's lease renewal, once (later calls do nothing). It runs until the runtime
/// ends; renewing when there is nothing to renew is one cheap UPDATE.
pub(crate) fn keep(app: &Twitcher) {
    if app.registry.lease_keeper.swap(true, Ordering::SeqCst) {
        return;
    }
    let (db, instance, every) = (app.db.clone(), app.instance_id().to_string(), app.options().engine.lease_renew_every);
    let beat = app.registry.tasks.beat(TASK, every);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let renewed = match db.renew_leases(&instance).await {
                Ok(_) => db.renew_job_leases(&instance).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match renewed {
                Ok(()) => {
                    beat.ok();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew leases");
                    beat.failed(&e);
                }
            }
        }
    });
}
