//! Aggregation throughput: 100 client deltas of 10M f32 parameters (4 GB of deltas) merged
//! by FedAvg and TaskAccuracy, against baselines that stream the same bytes.
//!
//! Run with `cargo bench -p fedmoa-agg`. Under `cargo test` (no `--bench` flag) the sizes
//! shrink to a smoke test. After criterion's report a summary table prints GB/s (best of
//! three runs) and each variant's ratio to two baselines over the same 4 GB: copying every
//! client buffer into one output (`baseline_copy`, memcpy) and reducing every buffer to a
//! sum (`baseline_read_sum`, the read bandwidth of one thread).

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use fedmoa_agg::{
    AggregatorConfig, FedAvgConfig, TaskAccuracyConfig, Temperature, Threads, weighted_sum_into,
};
use fedmoa_core::{Aggregator, ClientUpdate, ParamSet, screen_updates};

/// Tensors per model; the parameters are split evenly among them.
const N_TENSORS: usize = 8;

struct Fixture {
    global: ParamSet,
    updates: Vec<ClientUpdate>,
}

impl Fixture {
    fn new(n_clients: usize, n_params: usize) -> Self {
        let per = n_params / N_TENSORS;
        let layout = |fill: &dyn Fn(usize) -> f32| {
            let mut set = ParamSet::new();
            for t in 0..N_TENSORS {
                let data: Vec<f32> = (0..per).map(|i| fill(t * per + i)).collect();
                set.insert(format!("layer{t}.weight"), vec![per / 100, 100], data)
                    .expect("valid benchmark tensor");
            }
            set
        };
        let global = layout(&|i| (i % 97) as f32 * 1e-3);
        let updates = (0..n_clients)
            .map(|k| {
                // A cheap deterministic pattern; values in [−5e-4, 5e-4).
                let delta = layout(&|i| ((i * 31 + k * 7) % 1000) as f32 * 1e-6 - 5e-4);
                let task = if k % 3 == 0 { "code" } else { "math" };
                let accuracy = (k % 10) as f32 / 10.0;
                ClientUpdate::new(format!("client-{k}"), task, 50 + k as u64, delta, accuracy)
            })
            .collect();
        Self { global, updates }
    }

    fn delta_bytes(&self) -> u64 {
        (self.updates.len() * self.global.numel() * std::mem::size_of::<f32>()) as u64
    }

    fn slices(&self) -> Vec<Vec<&[f32]>> {
        self.updates
            .iter()
            .map(|u| u.delta.iter().map(|(_, t)| t.data()).collect())
            .collect()
    }
}

/// One measured variant: a name and a closure doing one full aggregation's worth of work.
type Variant<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn variants(fx: &Fixture) -> Vec<Variant<'_>> {
    let slices = fx.slices();
    let slices2 = slices.clone();
    let mut copy_out = vec![0.0f32; fx.global.numel()];
    let mut sum_out = vec![0.0f32; fx.global.numel()];
    let mut fedavg = FedAvgConfig::default().build().expect("valid config");
    let mut task_acc = AggregatorConfig::TaskAccuracy(TaskAccuracyConfig {
        temperature: Temperature::new(0.1),
        ..TaskAccuracyConfig::default()
    })
    .build()
    .expect("valid config");
    let one = Threads::Fixed(NonZeroUsize::MIN);
    let slices3 = fx.slices();
    vec![
        (
            "baseline_read_sum",
            Box::new(move || {
                // Read-only streaming: reduce every buffer to one number, eight lanes.
                let mut lanes = [0.0f32; 8];
                for client in &slices3 {
                    for t in client {
                        for c in t.chunks_exact(8) {
                            for (l, v) in lanes.iter_mut().zip(c) {
                                *l += v;
                            }
                        }
                    }
                }
                black_box(lanes);
            }),
        ),
        (
            "baseline_copy",
            Box::new(move || {
                // memcpy every client's tensors into one output buffer.
                for client in &slices {
                    let mut at = 0;
                    for t in client {
                        copy_out[at..at + t.len()].copy_from_slice(t);
                        at += t.len();
                    }
                }
                black_box(&copy_out);
            }),
        ),
        (
            "baseline_sum_loop",
            Box::new(move || {
                // Plain unblocked `out += x` over every client, one thread.
                sum_out.fill(0.0);
                for client in &slices2 {
                    let mut at = 0;
                    for t in client {
                        for (o, x) in sum_out[at..at + t.len()].iter_mut().zip(t.iter()) {
                            *o += x;
                        }
                        at += t.len();
                    }
                }
                black_box(&sum_out);
            }),
        ),
        (
            "kernel_1_thread",
            Box::new(move || {
                let mut out = fx.global.clone();
                let terms: Vec<(&ParamSet, f32)> =
                    fx.updates.iter().map(|u| (&u.delta, 0.01)).collect();
                black_box(weighted_sum_into(&mut out, &terms, one).expect("same layout"));
                black_box(&out);
            }),
        ),
        (
            "kernel_auto_threads",
            Box::new(move || {
                let mut out = fx.global.clone();
                let terms: Vec<(&ParamSet, f32)> =
                    fx.updates.iter().map(|u| (&u.delta, 0.01)).collect();
                black_box(weighted_sum_into(&mut out, &terms, Threads::Auto).expect("same layout"));
                black_box(&out);
            }),
        ),
        (
            "core_screen_updates",
            Box::new(move || {
                // For reference: a separate finiteness scan costs about one more pass.
                black_box(screen_updates(&fx.global, &fx.updates));
            }),
        ),
        (
            "fedavg",
            Box::new(move || {
                black_box(
                    fedavg
                        .aggregate(&fx.global, &fx.updates)
                        .expect("valid updates"),
                );
            }),
        ),
        (
            "task_accuracy",
            Box::new(move || {
                black_box(
                    task_acc
                        .aggregate(&fx.global, &fx.updates)
                        .expect("valid updates"),
                );
            }),
        ),
    ]
}

fn run_criterion(c: &mut Criterion, fx: &Fixture, label: &str) {
    let mut group: BenchmarkGroup<'_, WallTime> = c.benchmark_group(label);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(fx.delta_bytes()));
    for (name, mut f) in variants(fx) {
        group.bench_function(name, |b| b.iter(&mut f));
    }
    group.finish();
}

/// Best of three wall-clock runs per variant, printed as GB/s and as ratios to the
/// baselines.
fn print_summary(fx: &Fixture) {
    let gb = fx.delta_bytes() as f64 / 1e9;
    let mut rows = Vec::new();
    for (name, mut f) in variants(fx) {
        f();
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        rows.push((name, best, gb / best));
    }
    let rate = |name: &str| rows.iter().find(|r| r.0 == name).map_or(f64::NAN, |r| r.2);
    let (copy, read) = (rate("baseline_copy"), rate("baseline_read_sum"));
    println!(
        "\nsummary: {} clients × {} params = {gb:.2} GB of deltas",
        fx.updates.len(),
        fx.global.numel()
    );
    println!(
        "{:<22} {:>8} {:>8} {:>9} {:>9}",
        "variant", "best s", "GB/s", "vs copy", "vs read"
    );
    for (name, secs, gbps) in &rows {
        println!(
            "{name:<22} {secs:>8.3} {gbps:>8.2} {:>8.2}x {:>8.2}x",
            gbps / copy,
            gbps / read
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let full = std::env::args().any(|a| a == "--bench");
    let (n_clients, n_params, label) = if full {
        (100, 10_000_000, "aggregate_100x10M")
    } else {
        (4, 8_000, "aggregate_smoke")
    };
    let fx = Fixture::new(n_clients, n_params);
    let mut c = Criterion::default().configure_from_args();
    run_criterion(&mut c, &fx, label);
    c.final_summary();
    if full {
        print_summary(&fx);
    }
}
