//! Sandboxed Python evaluations per second: one MBPP-style candidate (three asserts) per
//! evaluation, scored one at a time and as batches through the worker pool.
//!
//! `CARGO_TARGET_DIR=target-mbpp cargo bench -p fedmoa-rewards --bench python_sandbox`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::rewards::PythonTestsConfig;
use fedmoa_rewards::sandbox::IsolationMode;

fn prompt() -> Prompt {
    Prompt {
        id: "bench".into(),
        task: "code".into(),
        text: "Write a function to find the shared elements of two lists.".into(),
        reference: Reference::PythonTests {
            setup: String::new(),
            asserts: vec![
                "assert similar((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)".into(),
                "assert similar((1, 2, 3, 4), (5, 4, 3, 7)) == (3, 4)".into(),
                "assert similar((11, 12, 14, 13), (17, 15, 14, 13)) == (13, 14)".into(),
            ],
        },
        solution: None,
    }
}

const SOLUTION: &str =
    "```python\ndef similar(a, b):\n    return tuple(sorted(set(a) & set(b)))\n```";

fn bench(c: &mut Criterion) {
    let reward = match PythonTestsConfig::default().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipping the python_sandbox bench: {e}");
            return;
        }
    };
    eprintln!(
        "python {:?}, isolation {:?}, {} workers",
        reward.sandbox().interpreter(),
        reward.sandbox().isolation(),
        reward.workers()
    );
    let p = prompt();
    let mut group = c.benchmark_group("python_sandbox");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| {
        b.iter(|| black_box(reward.score(&p, SOLUTION)))
    });
    let batch: Vec<(&Prompt, &str)> = (0..16).map(|_| (&p, SOLUTION)).collect();
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch16", |b| {
        b.iter(|| black_box(reward.score_batch(&batch)))
    });
    // The same without namespaces (resource limits and the audit hook only), to show
    // what `unshare` costs.
    let plain = PythonTestsConfig {
        isolation: IsolationMode::None,
        ..PythonTestsConfig::default()
    };
    if let Ok(plain) = plain.build() {
        group.bench_function("batch16_no_namespaces", |b| {
            b.iter(|| black_box(plain.score_batch(&batch)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
