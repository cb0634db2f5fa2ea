//! Turns to call an integration's platform: at most its `max_in_flight` calls run at once
//! in this instance, however many workers have one queued, so that many workers hide a slow
//! platform's latency without flooding it (trackers' writes, chat deliveries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::id::IntegrationId;
use crate::domain::integration::max_in_flight;
use crate::store::integrations::IntegrationRecord;

#[derive(Default)]
pub struct InFlight {
    slots: Mutex<HashMap<IntegrationId, (usize, Arc<Semaphore>)>>,
}

impl InFlight {
    /// Waits for a turn to call the platform of `record`; the turn ends when the permit
    /// is dropped.
    pub async fn slot(&self, record: &IntegrationRecord) -> Option<OwnedSemaphorePermit> {
        let size = max_in_flight(&record.settings);
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let entry = slots.entry(record.id.clone()).or_insert_with(|| (size, Arc::new(Semaphore::new(size))));
            // A changed limit takes effect for new calls; those in flight finish on the old one.
            if entry.0 != size {
                *entry = (size, Arc::new(Semaphore::new(size)));
            }
            entry.1.clone()
        };
        // Never closed, so this only waits (`None` would mean no limit).
        semaphore.acquire_owned().await.ok()
    }
}
