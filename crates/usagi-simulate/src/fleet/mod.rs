//! The fleet generator: a deterministic population of installations and the sync batches
//! their SDKs would upload over a period of days.
//!
//! Generation is pure: no clock, no I/O, no global state. A [`FleetConfig`] (seed included)
//! always yields byte-identical batches. Batches are produced lazily, one installation's
//! sync at a time, so a large fleet never sits in memory as a whole.

mod catalog;
mod life;
mod profile;
mod sampler;
mod wire;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;

use chrono::{Datelike, Days, NaiveDate};
use usagi_types::ClientId;
use uuid::Uuid;

use life::{Life, DAY_MS};
use profile::InstallPlan;
use sampler::Sampler;
use wire::{Envelope, Record, Sdk};

pub use wire::RecordKind;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// Installations that appear over the period.
    pub installs: u32,
    /// Length of the period in days, ending with `end_date`.
    pub days: u32,
    /// Last simulated day (UTC); nothing happens after its end.
    pub end_date: NaiveDate,
    /// Seed of every random choice.
    pub seed: u64,
    /// Most records in one batch; larger syncs are split into several batches.
    pub max_records_per_batch: u32,
}

impl FleetConfig {
    /// The batch size limit used unless set otherwise.
    pub const DEFAULT_MAX_RECORDS_PER_BATCH: u32 = 100;

    /// A configuration with the default batch size limit.
    pub fn new(installs: u32, days: u32, end_date: NaiveDate, seed: u64) -> Self {
        Self { installs, days, end_date, seed, max_records_per_batch: Self::DEFAULT_MAX_RECORDS_PER_BATCH }
    }

    /// First simulated day.
    pub fn start_date(&self) -> Option<NaiveDate> {
        self.end_date.checked_sub_days(Days::new(u64::from(self.days.checked_sub(1)?)))
    }
}

/// Why a [`FleetConfig`] cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// The period must have at least one day.
    #[error("the simulated period must be at least one day long")]
    NoDays,
    /// The period would start before the earliest representable date.
    #[error("the simulated period starts before the earliest supported date")]
    DateOutOfRange,
    /// The protocol allows 1–10,000 records per batch.
    #[error("max_records_per_batch must be between 1 and 10000")]
    BatchLimit,
}

/// One sync batch, ready to be signed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBatch {
    /// Index of the installation in the fleet (stable for a config).
    pub installation: u32,
    /// The installation's `clientId`.
    pub client_id: ClientId,
    /// When the simulated SDK uploads it (ms since the epoch, UTC).
    pub receive_time_ms: i64,
    /// The envelope's `seq`, strictly increasing per installation.
    pub seq: u64,
    /// The envelope's `batchId`.
    pub batch_id: Uuid,
    /// The JSON body, uncompressed.
    pub body: Vec<u8>,
    /// Number of records in the body.
    pub record_count: u32,
    /// Whether it uploads records that waited offline for a day or more.
    pub delayed: bool,
}

/// Public facts about one installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallationInfo<'a> {
    /// Index in the fleet.
    pub index: u32,
    /// Its `clientId`.
    pub client_id: ClientId,
    /// Its `machineId` (shared by some installations).
    pub machine_id: &'a str,
    /// Day of its first run.
    pub install_date: NaiveDate,
}

/// Fleet-wide facts shared by every installation's simulation.
pub(crate) struct World {
    /// 00:00 UTC of the first day, in ms.
    pub start_ms: i64,
    pub days: u32,
    /// The end of the last day: nothing is sent at or after it.
    pub horizon_ms: i64,
    /// Weekday of the first day, 0 = Monday.
    pub start_weekday: u32,
    /// Day index of each release in [`catalog::RELEASES`].
    pub release_days: Vec<u32>,
    /// Popularity weight of each event in [`catalog::EVENTS`].
    pub event_weights: Vec<f64>,
}

impl World {
    pub(crate) fn day_start(&self, day: u32) -> i64 {
        self.start_ms + i64::from(day) * DAY_MS
    }

    pub(crate) fn is_weekend(&self, day: u32) -> bool {
        (self.start_weekday + day) % 7 >= 5
    }
}

/// A generated fleet: the plan of every installation, from which batches are produced on demand.
pub struct Fleet {
    config: FleetConfig,
    start_date: NaiveDate,
    world: World,
    plans: Vec<InstallPlan>,
}

impl Fleet {
    /// Draws the installations of `config`.
    pub fn new(config: FleetConfig) -> Result<Self, FleetError> {
        if config.days == 0 {
            return Err(FleetError::NoDays);
        }
        if !(1..=10_000).contains(&config.max_records_per_batch) {
            return Err(FleetError::BatchLimit);
        }
        let start_date = config.start_date().ok_or(FleetError::DateOutOfRange)?;
        let start_ms = start_date.and_hms_opt(0, 0, 0).ok_or(FleetError::DateOutOfRange)?.and_utc().timestamp_millis();
        let days = config.days;
        let world = World {
            start_ms,
            days,
            horizon_ms: start_ms + i64::from(days) * DAY_MS,
            start_weekday: start_date.weekday().num_days_from_monday(),
            release_days: catalog::RELEASES
                .iter()
                .map(|r| if r.at <= 0.0 { 0 } else { libm::floor(r.at * f64::from(days)) as u32 })
                .collect(),
            event_weights: (0..catalog::EVENTS.len()).map(|k| 1.0 / libm::pow(k as f64 + 1.0, 1.1)).collect(),
        };

        let mut fleet_rng = Sampler::new(config.seed, 0);
        // Arrivals grow over the period: density ∝ 1 + 2x on x ∈ [0, 1), three times as many
        // new installations per day at the end as at the start. Inverse CDF of that density.
        let mut arrivals: Vec<(u32, u64)> = (0..config.installs)
            .map(|_| {
                let u = fleet_rng.unit();
                let x = (libm::sqrt(1.0 + 8.0 * u) - 1.0) / 2.0;
                let day = (libm::floor(x * f64::from(days)) as u32).min(days - 1);
                (day, fleet_rng.bits())
            })
            .collect();
        arrivals.sort_unstable();

        let mut plans: Vec<InstallPlan> = Vec::with_capacity(arrivals.len());
        let mut used_ids = BTreeSet::new();
        // Earlier installations whose machine nobody shares yet.
        let mut unshared: Vec<usize> = Vec::new();
        for (install_day, seed) in arrivals {
            let mut s = Sampler::new(seed, 0);
            let client_id = loop {
                let id = s.bits();
                if used_ids.insert(id) {
                    break ClientId::from_u64(id);
                }
            };
            // About one installation in sixteen is a second user of an existing machine.
            let machine = if !unshared.is_empty() && fleet_rng.chance(0.06) {
                let owner = unshared.swap_remove(fleet_rng.below(unshared.len() as u64) as usize);
                plans[owner].machine.clone()
            } else {
                unshared.push(plans.len());
                profile::draw_machine(&mut s)
            };
            plans.push(profile::draw_plan(&mut s, seed, client_id, machine, install_day));
        }
        Ok(Self { config, start_date, world, plans })
    }

    /// The configuration this fleet was drawn from.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// First simulated day.
    pub fn start_date(&self) -> NaiveDate {
        self.start_date
    }

    /// Number of installations.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether the fleet has no installations.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// The installations, in order of their install day.
    pub fn installations(&self) -> impl ExactSizeIterator<Item = InstallationInfo<'_>> + '_ {
        self.plans.iter().enumerate().map(|(i, p)| InstallationInfo {
            index: i as u32,
            client_id: p.client_id,
            machine_id: &p.machine.id,
            install_date: self.start_date + Days::new(u64::from(p.install_day)),
        })
    }

    /// The batches of installation `index`, in upload order; `None` past the last index.
    pub fn batches_of(&self, index: u32) -> Option<InstallationBatches<'_>> {
        let plan = self.plans.get(index as usize)?;
        Some(InstallationBatches {
            index,
            plan,
            life: Life::new(&self.world, plan),
            ids: Sampler::new(plan.seed, 2),
            seq: 0,
            max: self.config.max_records_per_batch as usize,
            pending: VecDeque::new(),
        })
    }

    /// Every batch of the fleet ordered by receive time (ties by installation, then `seq`),
    /// so a sender can replay the history day by day.
    pub fn batches_in_time_order(&self) -> TimeOrderedBatches<'_> {
        let mut streams: Vec<InstallationBatches<'_>> =
            (0..self.plans.len() as u32).filter_map(|i| self.batches_of(i)).collect();
        let heap = streams.iter_mut().filter_map(|s| s.peek_receive_time().map(|t| Reverse((t, s.index)))).collect();
        TimeOrderedBatches { streams, heap }
    }

    /// Counts what the fleet will send, by simulating it without serialising any body.
    pub fn summary(&self) -> FleetSummary {
        let mut summary = FleetSummary {
            installs: self.plans.len() as u32,
            reporting_installs: 0,
            quiet_installs: 0,
            batches: 0,
            delayed_batches: 0,
            records: 0,
            records_by_kind: RecordKind::ALL.iter().map(|k| (*k, 0)).collect(),
            start_date: self.start_date,
            end_date: self.config.end_date,
        };
        let max = u64::from(self.config.max_records_per_batch);
        // "Quiet": last seen at least 40 days (the default daysUntilDeclaredLost) before the
        // end, so the installation counts as lost when "today" is the last simulated day.
        let quiet_before = self.world.horizon_ms - 40 * DAY_MS;
        for plan in &self.plans {
            let mut last_seen = None;
            for sync in Life::new(&self.world, plan) {
                let n = sync.records.len() as u64;
                let batches = n.div_ceil(max);
                summary.batches += batches;
                if sync.delayed {
                    summary.delayed_batches += batches;
                }
                summary.records += n;
                let mut seen = sync.receive_ms;
                for r in &sync.records {
                    *summary.records_by_kind.entry(r.kind()).or_default() += 1;
                    seen = seen.max(r.t());
                }
                last_seen = Some(last_seen.map_or(seen, |l: i64| l.max(seen)));
            }
            if let Some(last) = last_seen {
                summary.reporting_installs += 1;
                let last_day_end = last - last.rem_euclid(DAY_MS) + DAY_MS;
                if last_day_end <= quiet_before {
                    summary.quiet_installs += 1;
                }
            }
        }
        summary
    }
}

/// The batches of one installation, in upload order (`seq` 1, 2, …).
pub struct InstallationBatches<'a> {
    index: u32,
    plan: &'a InstallPlan,
    life: Life<'a>,
    /// A separate stream for batch ids, so ids never shift the behaviour stream.
    ids: Sampler,
    seq: u64,
    max: usize,
    pending: VecDeque<PendingBatch<'a>>,
}

/// A formed batch whose body is not serialised yet.
struct PendingBatch<'a> {
    receive_time_ms: i64,
    seq: u64,
    batch_id: Uuid,
    records: Vec<Record<'a>>,
    delayed: bool,
}

impl InstallationBatches<'_> {
    /// Receive time of the next batch, without serialising it.
    pub fn peek_receive_time(&mut self) -> Option<i64> {
        self.fill();
        self.pending.front().map(|b| b.receive_time_ms)
    }

    /// Forms the batches of the next sync when none are pending. `batchId` and `seq` are
    /// assigned at formation, as the SDK does.
    fn fill(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        let Some(sync) = self.life.next() else { return };
        let mut records = sync.records.into_iter().peekable();
        while records.peek().is_some() {
            let chunk: Vec<Record<'_>> = records.by_ref().take(self.max).collect();
            self.seq += 1;
            self.pending.push_back(PendingBatch {
                receive_time_ms: sync.receive_ms,
                seq: self.seq,
                batch_id: self.ids.uuid(),
                records: chunk,
                delayed: sync.delayed,
            });
        }
    }
}

impl Iterator for InstallationBatches<'_> {
    type Item = SimBatch;

    fn next(&mut self) -> Option<SimBatch> {
        self.fill();
        let batch = self.pending.pop_front()?;
        let envelope = Envelope {
            client_id: self.plan.client_id.to_hex(),
            machine_id: &self.plan.machine.id,
            app_name: wire::APP_NAME,
            sdk: Sdk { name: wire::SDK_NAME, version: wire::SDK_VERSION },
            batch_id: batch.batch_id,
            seq: batch.seq,
            records: &batch.records,
        };
        // Plain structs with string keys and finite numbers: serialising to memory cannot fail.
        let body = serde_json::to_vec(&envelope).expect("serialising a sync envelope to memory cannot fail");
        Some(SimBatch {
            installation: self.index,
            client_id: self.plan.client_id,
            receive_time_ms: batch.receive_time_ms,
            seq: batch.seq,
            batch_id: batch.batch_id,
            body,
            record_count: batch.records.len() as u32,
            delayed: batch.delayed,
        })
    }
}

/// All batches of a fleet merged by receive time.
pub struct TimeOrderedBatches<'a> {
    streams: Vec<InstallationBatches<'a>>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Iterator for TimeOrderedBatches<'_> {
    type Item = SimBatch;

    fn next(&mut self) -> Option<SimBatch> {
        let Reverse((_, index)) = self.heap.pop()?;
        let stream = &mut self.streams[index as usize];
        let batch = stream.next();
        if let Some(t) = stream.peek_receive_time() {
            self.heap.push(Reverse((t, index)));
        }
        batch
    }
}

/// What a fleet will send, computed without building bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSummary {
    /// Installations in the fleet.
    pub installs: u32,
    /// Installations that send at least one batch (the ones the server will know).
    pub reporting_installs: u32,
    /// Reporting installations last seen ≥ 40 days before the end of the period: lost under
    /// the default `daysUntilDeclaredLost` when today is the last simulated day.
    pub quiet_installs: u32,
    /// Batches in total.
    pub batches: u64,
    /// Batches that upload records from the offline queue, days late.
    pub delayed_batches: u64,
    /// Records in total.
    pub records: u64,
    /// Records per kind (every kind is present, zeros included).
    pub records_by_kind: BTreeMap<RecordKind, u64>,
    /// First simulated day.
    pub start_date: NaiveDate,
    /// Last simulated day.
    pub end_date: NaiveDate,
}

impl fmt::Display for FleetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "period              {} .. {}", self.start_date, self.end_date)?;
        writeln!(f, "installations       {:>12}", self.installs)?;
        writeln!(f, "  reporting         {:>12}", self.reporting_installs)?;
        writeln!(f, "  quiet ≥ 40 days   {:>12}", self.quiet_installs)?;
        writeln!(f, "batches             {:>12}", self.batches)?;
        writeln!(f, "  delayed (offline) {:>12}", self.delayed_batches)?;
        writeln!(f, "records             {:>12}", self.records)?;
        for (kind, n) in &self.records_by_kind {
            writeln!(f, "  {:<17} {:>12}", kind.as_str(), n)?;
        }
        Ok(())
    }
}
