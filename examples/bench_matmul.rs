//! Throughput of the matrix products of a SmolLM2-135M LoRA training pass on the CPU
//! backend (Flex), shape by shape: how fast Burn's matrix products run the projections the
//! GRPO update spends most of its time in.
//!
//! For every projection of a SmolLM2-135M block and for the output head, with `--rows`
//! token positions (a 2-row micro-batch of about 50 completion tokens each by default):
//! - `forward`: `y = x·W`, as in the reference forward;
//! - `train`: `y = x·W` on the autodiff device, then the input gradient `dx = dy·Wᵀ`, as in
//!   the update (the base weight is frozen, so it gets no gradient), with `W` stored as the
//!   loader keeps it, `[in, out]`, and as PyTorch and GGUF keep it, `[out, in]` (a
//!   transposed view).
//!
//! Figures are GFLOP/s (2·rows·in·out per product; the `train` figure counts both products).
//! `scripts/torch-matmul-bench.py` measures the same products with PyTorch, for the same
//! sitting; `docs/PERFORMANCE.md` records both. Build with `--features x86-v4` to add the
//! AVX-512 matrix kernels.
//!
//! ```text
//! cargo run --release --example bench_matmul [-- --rows 100 --reps 30]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use fedmoa_grpo::burn::prelude::*;
use fedmoa_grpo::burn::tensor::Distribution;

/// The SmolLM2-135M products: (name, in, out, how many per block; 0 for the head).
const SHAPES: [(&str, usize, usize, usize); 5] = [
    ("q_proj, o_proj", 576, 576, 2),
    ("k_proj, v_proj", 576, 192, 2),
    ("gate_proj, up_proj", 576, 1536, 2),
    ("down_proj", 1536, 576, 1),
    ("lm_head (tied)", 576, 49152, 0),
];

/// Command line of the benchmark.
#[derive(clap::Parser)]
#[command(about = "GFLOP/s of the SmolLM2-135M training products on the Flex CPU backend")]
struct Args {
    /// Token positions per product (rows of `x`).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=8192))]
    rows: u64,
    /// Timed repetitions per product, after one warm-up.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    reps: u64,
}

fn main() -> ExitCode {
    let args: Args = clap::Parser::parse();
    fedmoa::cli::exit_code(run(&args))
}

/// Where `W` lives in memory for the `train` figure.
#[derive(Clone, Copy)]
enum Layout {
    /// `[in, out]`, row-major: the loader's layout.
    InOut,
    /// `[out, in]`, row-major, used through a transposed view.
    OutIn,
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let rows = usize::try_from(args.rows)?;
    let reps = usize::try_from(args.reps)?;
    println!(
        "{rows} rows, {reps} repetitions, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| product | in → out | forward GFLOP/s | train, W [in, out] | train, W [out, in] |");
    println!("|---|---|---:|---:|---:|");
    let mut block_secs = [0.0f64; 3];
    let mut json = Vec::new();
    for &(name, d_in, d_out, per_block) in &SHAPES {
        let flops = 2.0 * (rows * d_in * d_out) as f64;
        let forward = forward_secs(rows, d_in, d_out, reps);
        let in_out = train_secs(rows, d_in, d_out, reps, Layout::InOut);
        let out_in = train_secs(rows, d_in, d_out, reps, Layout::OutIn);
        for (total, secs) in block_secs.iter_mut().zip([forward, in_out, out_in]) {
            *total += secs * per_block as f64;
        }
        // GFLOP/s; `train` runs two products.
        let rates = [
            flops / forward / 1e9,
            2.0 * flops / in_out / 1e9,
            2.0 * flops / out_in / 1e9,
        ];
        println!(
            "| {name} | {d_in} → {d_out} | {:.1} | {:.1} | {:.1} |",
            rates[0], rates[1], rates[2]
        );
        json.push(format!(
            "\"{d_in}x{d_out}\":[{:.1},{:.1},{:.1}]",
            rates[0], rates[1], rates[2]
        ));
    }
    println!(
        "one block's 7 projections: forward {:.2} ms; train {:.2} ms ([in, out]), {:.2} ms ([out, in])",
        block_secs[0] * 1e3,
        block_secs[1] * 1e3,
        block_secs[2] * 1e3
    );
    println!("{{\"rows\":{rows},{}}}", json.join(","));
    Ok(())
}

/// Mean seconds of `x·W` on the plain device.
fn forward_secs(rows: usize, d_in: usize, d_out: usize, reps: usize) -> f64 {
    let device = Device::flex();
    let x = Tensor::<2>::random([rows, d_in], Distribution::Default, &device);
    let w = Tensor::<2>::random([d_in, d_out], Distribution::Default, &device);
    mean_secs(reps, || {
        let _ = x.clone().matmul(w.clone()).into_data();
    })
}

/// Mean seconds of `x·W` on the autodiff device followed by the backward to `x`.
fn train_secs(rows: usize, d_in: usize, d_out: usize, reps: usize, layout: Layout) -> f64 {
    let device = Device::flex().autodiff();
    let x0 = Tensor::<2>::random([rows, d_in], Distribution::Default, &device);
    let w = match layout {
        Layout::InOut => Tensor::<2>::random([d_in, d_out], Distribution::Default, &device),
        Layout::OutIn => {
            Tensor::<2>::random([d_out, d_in], Distribution::Default, &device).transpose()
        }
    };
    mean_secs(reps, || {
        let x = x0.clone().detach().require_grad();
        let grads = x.clone().matmul(w.clone()).sum().backward();
        if let Some(dx) = x.grad(&grads) {
            let _ = dx.into_data();
        }
    })
}

/// Runs `f` once to warm up, then `reps` times, and returns the mean seconds per run.
fn mean_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}
