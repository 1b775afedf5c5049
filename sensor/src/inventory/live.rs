//! Reading the inventory while a run goes on (the console's snapshots): every asset as it is
//! now, and reply latencies so far, without [`Inventory::finalize`].

use std::collections::BTreeMap;

use super::{Asset, Inventory, LatencySummary};

impl Inventory {
    /// Every asset, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Asset> + '_ {
        self.assets.values().map(|a| &**a)
    }
}

impl Asset {
    /// Reply latency per protocol from the replies seen so far (`finalize` stores it in
    /// [`Asset::latency`] at the end of a run).
    pub fn latency_now(&self) -> BTreeMap<&'static str, LatencySummary> {
        self.hist
            .iter()
            .map(|(p, h)| {
                (
                    *p,
                    LatencySummary {
                        replies: h.len(),
                        p50_us: h.value_at_quantile(0.5),
                        p99_us: h.value_at_quantile(0.99),
                        max_us: h.max(),
                    },
                )
            })
            .collect()
    }
}
