//! Matching a large inventory against a large advisory set: 100,000 device identities against
//! 5,000 advisories scaled from the real CISA advisories in `captures/advisories/` (vendors,
//! product names and model numbers renamed per copy, version ranges kept). The reference in the
//! same run is the matcher without its token index (`match_device_scan`) on 1,000 of the
//! identities; the report is the indexed time for all 100,000 and the per-identity ratio.
//!
//! `cargo bench -p fabmon-sensor --bench advisory_match`.

// Bench setup fails loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fabmon_sensor::advisory::{csaf, Advisory, AdvisoryIndex, Aliases, DeviceIdentity};

const ADVISORIES: usize = 5_000;
const ASSETS: usize = 100_000;
const SCAN_ASSETS: usize = 1_000;
/// Distinct synthetic vendors the scaled copies are spread over.
const VENDORS: usize = 400;

fn templates() -> Vec<Advisory> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/advisories");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            out.push(csaf::parse(&std::fs::read(&p).unwrap()).unwrap());
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    assert!(!out.is_empty());
    out
}

/// Renames a product name so every copy names other products: each number `n` in a word becomes
/// `n + 1000 * k` (`PXC12/22/36-E.D` → `PXC1012/1022/1036-E.D`), other words of four letters or
/// more get a letter prefix from `k` (`Modicon` → `BAModicon`, `(eBCON)` → `BA(eBCON)`).
fn remodel(s: &str, k: usize) -> String {
    let letters = format!("{}{}", (b'A' + (k % 26) as u8) as char, (b'A' + (k / 26 % 26) as u8) as char);
    s.split(' ')
        .map(|w| {
            if w.bytes().any(|b| b.is_ascii_digit()) {
                let mut out = String::new();
                let mut num = String::new();
                for c in w.chars().chain(std::iter::once(' ')) {
                    if c.is_ascii_digit() {
                        num.push(c);
                        continue;
                    }
                    if !num.is_empty() {
                        let n: usize = num.parse().unwrap_or(0);
                        out.push_str(&(n + 1000 * k).to_string());
                        num.clear();
                    }
                    if c != ' ' {
                        out.push(c);
                    }
                }
                out
            } else if w.len() >= 4 {
                format!("{letters}{w}")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn scaled(t: &[Advisory]) -> Vec<Advisory> {
    (0..ADVISORIES)
        .map(|i| {
            let mut a = t[i % t.len()].clone();
            if i < t.len() {
                // The real advisories themselves are part of the set.
                return a;
            }
            a.id = format!("SYN-{i:05}");
            // One copy in five keeps its real vendor (large buckets for the real vendors).
            let vendor = (i % 5 != 0).then(|| format!("Vendor {} Controls", i % VENDORS));
            for p in &mut a.products {
                if let Some(v) = &vendor {
                    p.vendors = vec![v.clone()];
                }
                p.name = remodel(&p.name, i);
                p.families = p.families.iter().map(|f| remodel(f, i)).collect();
                p.model_numbers = p.model_numbers.iter().map(|m| remodel(m, i)).collect();
            }
            a
        })
        .collect()
}

fn identities() -> Vec<DeviceIdentity> {
    let real = [
        ("Schneider Electric", "TM221CE16R", "1.5.1.0"),
        ("Schneider Electric", "METSEPM5560", "2.4.0"),
        ("Siemens Building Technologies", "PXC22.D", "V5.00.150"),
        ("Delta Controls", "eBCON", "3.40 R5 build 571848"),
        ("Johnson Controls, Inc.", "MS-NAE5510-2", "8.0.0.0"),
    ];
    (0..ASSETS)
        .map(|i| match i % 10 {
            0..=2 => {
                let (v, m, r) = real[i % real.len()];
                DeviceIdentity {
                    vendors: vec![v.into()],
                    models: vec![m.into()],
                    versions: vec![r.into()],
                    bacnet_vendor_id: None,
                }
            }
            3..=7 => {
                let k = i % ADVISORIES;
                DeviceIdentity {
                    vendors: vec![format!("Vendor {} Controls GmbH", k % VENDORS)],
                    models: vec![format!("PXC{}.D", 22 + 1000 * k), format!("Modicon M{}", 221 + 1000 * k)],
                    versions: vec![format!("{}.{}.{}", i % 7, i % 13, i % 100)],
                    bacnet_vendor_id: None,
                }
            }
            8 => DeviceIdentity {
                bacnet_vendor_id: Some(8),
                models: vec!["eBMGR".into()],
                ..Default::default()
            },
            _ => DeviceIdentity {
                models: vec![format!("TOOL-{i}")],
                versions: vec!["4.2.1".into()],
                ..Default::default()
            },
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let advisories = scaled(&templates());
    let index = AdvisoryIndex::new(&advisories, Aliases::builtin().unwrap());
    let ids = identities();
    // The index finds what the scan finds.
    for d in ids.iter().step_by(97) {
        assert_eq!(index.match_device(d), index.match_device_scan(d));
    }
    let total: usize = ids.iter().map(|d| index.match_device(d).len()).sum();
    eprintln!(
        "advisory_match: {} advisories, {} product entries, {} identities, {total} matches",
        index.size().0,
        index.size().1,
        ids.len()
    );
    let mut g = c.benchmark_group("advisory_match");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(ASSETS as u64));
    g.bench_function("indexed/100k_identities_x_5k_advisories", |b| {
        b.iter(|| ids.iter().map(|d| index.match_device(black_box(d)).len()).sum::<usize>())
    });
    g.throughput(Throughput::Elements(SCAN_ASSETS as u64));
    g.bench_function("reference_scan/1k_identities_x_5k_advisories", |b| {
        b.iter(|| {
            ids[..SCAN_ASSETS].iter().map(|d| index.match_device_scan(black_box(d)).len()).sum::<usize>()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("advisory_match_build");
    g.sample_size(10);
    g.bench_function("build_index_5k", |b| {
        b.iter(|| AdvisoryIndex::new(black_box(&advisories), Aliases::builtin().unwrap()).size())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
