//! Splitting parameter-wise work into chunks and spreading the chunks over threads.
//!
//! Every kernel in this crate walks the parameters in chunks of a few thousand values so
//! that a chunk of the output (and, for the robust rules, of every client's delta) stays in
//! cache while all clients are folded into it. Chunks are independent, so they are handed
//! out in contiguous runs to `std::thread::scope` workers. The result of a kernel never
//! depends on the number of threads: each output value is computed by the same sequence of
//! floating-point operations whichever thread owns its chunk.

use std::num::NonZeroUsize;
use std::ops::Range;

/// How many threads a kernel may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Threads {
    /// As many as the machine offers ([`std::thread::available_parallelism`]), but only
    /// when the work is large enough to repay starting them.
    #[default]
    Auto,
    /// Exactly this many (capped at the number of chunks).
    Fixed(NonZeroUsize),
}

/// Below this many scalar operations per thread, extra threads cost more than they save.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

impl Threads {
    /// Resolves the thread count for `work` scalar operations spread over `n_chunks` chunks.
    pub(crate) fn resolve(self, work: usize, n_chunks: usize) -> usize {
        let wanted = match self {
            Threads::Fixed(n) => n.get(),
            Threads::Auto => {
                let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
                cores.min(work / MIN_WORK_PER_THREAD).max(1)
            }
        };
        wanted.min(n_chunks).max(1)
    }
}

/// One chunk of one tensor: its index in name order and the flat range it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Index of the tensor in name order.
    pub tensor: usize,
    /// Flat element range within that tensor.
    pub range: Range<usize>,
}

/// Cuts tensors of the given lengths into chunks of at most `chunk` elements.
pub(crate) fn chunks(lens: &[usize], chunk: usize) -> Vec<Chunk> {
    let chunk = chunk.max(1);
    let mut out = Vec::new();
    for (tensor, &len) in lens.iter().enumerate() {
        let mut start = 0;
        while start < len {
            let end = (start + chunk).min(len);
            out.push(Chunk {
                tensor,
                range: start..end,
            });
            start = end;
        }
    }
    out
}

/// Splits `items` (with sizes `size(item)`) into at most `parts` contiguous runs of
/// roughly equal total size; returns the run boundaries as lengths.
fn run_lengths<T>(items: &[T], parts: usize, size: impl Fn(&T) -> usize) -> Vec<usize> {
    let total: usize = items.iter().map(&size).sum();
    let parts = parts.max(1);
    let mut lengths = Vec::with_capacity(parts);
    let (mut run, mut acc, mut done) = (0usize, 0usize, 0usize);
    for item in items {
        run += 1;
        acc += size(item);
        // Close the run once it reaches its share of the total.
        if lengths.len() + 1 < parts && acc * parts >= total * (lengths.len() + 1) {
            lengths.push(run);
            done += run;
            run = 0;
        }
    }
    if done < items.len() {
        lengths.push(items.len() - done);
    }
    lengths
}

/// Runs `f` on every chunk of `out` (a list of mutable tensor buffers), spreading contiguous
/// runs of chunks over `threads` scoped threads. `f(state, chunk, data)` receives the
/// chunk's position and its slice of the output; each thread starts from `init()` and the
/// per-thread states are returned in chunk order.
pub(crate) fn for_each_out_chunk<S, I, F>(
    out: Vec<&mut [f32]>,
    chunk: usize,
    threads: usize,
    init: I,
    f: F,
) -> Vec<S>
where
    S: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, &Chunk, &mut [f32]) + Sync,
{
    let lens: Vec<usize> = out.iter().map(|data| data.len()).collect();
    // `chunks` and `chunks_mut` cut every tensor at the same points, in the same order.
    let pieces = out
        .into_iter()
        .flat_map(|data| data.chunks_mut(chunk.max(1)));
    let mut items: Vec<(Chunk, &mut [f32])> =
        chunks(&lens, chunk).into_iter().zip(pieces).collect();
    fold_runs(
        &mut items,
        threads,
        |(c, _)| c.range.len(),
        init,
        |state, (c, data)| f(state, c, data),
    )
}

/// Folds `f` over every chunk of tensors with the given lengths, spreading contiguous runs
/// of chunks over `threads` scoped threads; returns the per-thread states in chunk order.
pub(crate) fn fold_chunks<S, I, F>(
    lens: &[usize],
    chunk: usize,
    threads: usize,
    init: I,
    f: F,
) -> Vec<S>
where
    S: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, &Chunk) + Sync,
{
    let mut items = chunks(lens, chunk);
    fold_runs(
        &mut items,
        threads,
        |c| c.range.len(),
        init,
        |state, c| f(state, c),
    )
}

/// Folds `f` over `items` (of sizes `size(item)`), spreading contiguous runs of items over
/// `threads` scoped threads (see [`run_lengths`]): each run starts from `init()` and the
/// per-run states are returned in item order. With one thread, everything runs here.
fn fold_runs<T, S, I, F>(
    items: &mut [T],
    threads: usize,
    size: impl Fn(&T) -> usize,
    init: I,
    f: F,
) -> Vec<S>
where
    T: Send,
    S: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, &mut T) + Sync,
{
    let run = |mine: &mut [T]| {
        let mut state = init();
        for item in mine {
            f(&mut state, item);
        }
        state
    };
    if threads <= 1 {
        return vec![run(items)];
    }
    let lengths = run_lengths(items, threads, size);
    let mut runs = Vec::with_capacity(lengths.len());
    let mut rest = items;
    for len in lengths {
        let (mine, tail) = rest.split_at_mut(len);
        rest = tail;
        runs.push(mine);
    }
    in_threads(runs, run)
}

/// Runs `work` on every run, the first on the calling thread and the others on scoped
/// threads; returns the results in run order. A panic in a worker (a bug, never bad input)
/// is propagated to the caller.
fn in_threads<T, S, W>(runs: Vec<T>, work: W) -> Vec<S>
where
    T: Send,
    S: Send,
    W: Fn(T) -> S + Sync,
{
    let mut runs = runs.into_iter();
    let Some(first) = runs.next() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = runs.map(|r| scope.spawn(move || work(r))).collect();
        let mut out = Vec::with_capacity(handles.len() + 1);
        out.push(work(first));
        for h in handles {
            out.push(
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_element_once() {
        // Lengths 5 and 3 with chunk 2: [0..2, 2..4, 4..5] and [0..2, 2..3].
        let c = chunks(&[5, 0, 3], 2);
        let got: Vec<_> = c.iter().map(|c| (c.tensor, c.range.clone())).collect();
        assert_eq!(
            got,
            vec![(0, 0..2), (0, 2..4), (0, 4..5), (2, 0..2), (2, 2..3)]
        );
    }

    #[test]
    fn runs_are_balanced_and_complete() {
        // Ten items of size 1 into 3 runs: the runs close at 4/10 ≥ 1/3 and 7/10 ≥ 2/3.
        let lengths = run_lengths(&[1usize; 10], 3, |s| *s);
        assert_eq!(lengths, vec![4, 3, 3]);
        assert_eq!(
            run_lengths(&[1usize; 2], 5, |s| *s).iter().sum::<usize>(),
            2
        );
        assert!(run_lengths::<usize>(&[], 2, |s| *s).is_empty());
    }

    #[test]
    fn threaded_and_serial_visits_agree() {
        let mut a = vec![0.0f32; 1000];
        let mut b = vec![0.0f32; 37];
        let states = for_each_out_chunk(
            vec![&mut a, &mut b],
            64,
            3,
            || 0usize,
            |n, c, data| {
                *n += data.len();
                for (k, v) in data.iter_mut().enumerate() {
                    *v = (c.tensor * 10_000 + c.range.start + k) as f32;
                }
            },
        );
        assert_eq!(states.len(), 3);
        assert_eq!(states.iter().sum::<usize>(), 1037);
        assert!(a.iter().enumerate().all(|(k, v)| *v == k as f32));
        assert!(b.iter().enumerate().all(|(k, v)| *v == (10_000 + k) as f32));
        let sums = fold_chunks(&[1000, 37], 64, 2, || 0usize, |s, c| *s += c.range.len());
        assert_eq!(sums.iter().sum::<usize>(), 1037);
    }

    #[test]
    fn auto_uses_one_thread_for_small_work() {
        assert_eq!(Threads::Auto.resolve(10, 100), 1);
        let four = Threads::Fixed(NonZeroUsize::new(4).unwrap());
        assert_eq!(four.resolve(0, 2), 2);
        assert_eq!(four.resolve(0, 0), 1);
    }
}
