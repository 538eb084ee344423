//! [`PackedCache`]: packed frozen weights kept between the decode models of one model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use super::packed_matrix::PackedMatrix;

/// Packed frozen weights, found again by a fingerprint of their `f32` values, so that a
/// trainer that builds a decode model every step (a LoRA model's base never changes)
/// packs each weight once; a weight whose values changed gets a new fingerprint and is
/// packed again. Clones share the cache, and a decode model built with it keeps only the
/// entries it used. [`crate::Llama`] holds one.
#[derive(Debug, Clone, Default)]
pub struct PackedCache {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    /// The build in progress; an entry used by it carries its number.
    build: u64,
    /// The packed matrix (`None`: the values are no block format's) and the last build
    /// that used it.
    map: HashMap<Fingerprint, (Option<Arc<PackedMatrix>>, u64)>,
}

/// What identifies a weight's values: its shape, the layout it was read in and a 64-bit
/// hash of its `f32` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Fingerprint {
    rows: usize,
    cols: usize,
    transposed: bool,
    hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `values`, a `rows × cols` matrix read `[in, out]` when
    /// `transposed`.
    pub fn of(values: &[f32], rows: usize, cols: usize, transposed: bool) -> Self {
        Self {
            rows,
            cols,
            transposed,
            hash: hash(values),
        }
    }
}

impl PackedCache {
    /// Starts a decode model's build: entries it does not use are dropped by
    /// [`PackedCache::finish_build`].
    pub(super) fn start_build(&self) {
        self.lock().build += 1;
    }

    /// The packed matrix for `key`, packed by `pack` when the cache does not hold it.
    pub(super) fn get_or_pack(
        &self,
        key: Fingerprint,
        pack: impl FnOnce() -> Option<PackedMatrix>,
    ) -> Option<Arc<PackedMatrix>> {
        {
            let mut entries = self.lock();
            let build = entries.build;
            if let Some((packed, used)) = entries.map.get_mut(&key) {
                *used = build;
                return packed.clone();
            }
        }
        // Packing takes a while; other builds may use the cache meanwhile.
        let packed = pack().map(Arc::new);
        let mut entries = self.lock();
        let build = entries.build;
        entries.map.insert(key, (packed.clone(), build));
        packed
    }

    /// Drops the entries the current build did not use.
    pub(super) fn finish_build(&self) {
        let mut entries = self.lock();
        let build = entries.build;
        entries.map.retain(|_, (_, used)| *used == build);
    }

    /// Number of weights the cache holds (packed or found not to pack).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map stays consistent even if a thread panicked while holding the lock.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A 64-bit hash of the bits of `values`: four interleaved multiply–xor streams per chunk
/// (so that the multiplications do not wait on each other), chunks hashed in parallel and
/// combined in order.
fn hash(values: &[f32]) -> u64 {
    const CHUNK: usize = 1 << 18;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mix = |mut h: u64| {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    };
    let chunks: Vec<u64> = values
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut lanes = [0xcbf2_9ce4_8422_2325u64, 1, 2, 3];
            let (quads, rest) = chunk.as_chunks::<4>();
            for quad in quads {
                for (lane, v) in lanes.iter_mut().zip(quad) {
                    *lane = (*lane ^ u64::from(v.to_bits())).wrapping_mul(PRIME);
                }
            }
            for (lane, v) in lanes.iter_mut().zip(rest) {
                *lane = (*lane ^ u64::from(v.to_bits())).wrapping_mul(PRIME);
            }
            lanes.iter().fold(chunk.len() as u64, |h, &lane| {
                mix(h ^ lane).wrapping_mul(PRIME)
            })
        })
        .collect();
    chunks
        .iter()
        .fold(values.len() as u64, |h, &c| mix(h ^ c).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_bit_changes_the_fingerprint() {
        let values: Vec<f32> = (0..600_000).map(|i| (i as f32 * 0.37).sin()).collect();
        let key = Fingerprint::of(&values, 600, 1000, false);
        assert_eq!(key, Fingerprint::of(&values, 600, 1000, false));
        assert_ne!(key, Fingerprint::of(&values, 1000, 600, false));
        assert_ne!(key, Fingerprint::of(&values, 600, 1000, true));
        for at in [0, 3, 262_143, 262_144, 599_999] {
            let mut changed = values.clone();
            changed[at] = f32::from_bits(changed[at].to_bits() ^ 1);
            assert_ne!(key, Fingerprint::of(&changed, 600, 1000, false), "at {at}");
        }
        // Swapping two values (same multiset) changes it too.
        let mut swapped = values.clone();
        swapped.swap(10, 11);
        assert_ne!(key, Fingerprint::of(&swapped, 600, 1000, false));
    }

    #[test]
    fn a_build_keeps_what_it_used_and_packs_each_weight_once() {
        let cache = PackedCache::default();
        let key = |h| Fingerprint {
            rows: 1,
            cols: 32,
            transposed: false,
            hash: h,
        };
        let packed = || PackedMatrix::pack_exact(1, 32, |_, buffer| buffer.fill(0.5));
        let mut calls = 0;
        cache.start_build();
        assert!(
            cache
                .get_or_pack(key(1), || {
                    calls += 1;
                    packed()
                })
                .is_some()
        );
        assert!(
            cache
                .get_or_pack(key(2), || {
                    calls += 1;
                    None
                })
                .is_none()
        );
        cache.finish_build();
        assert_eq!((cache.len(), calls), (2, 2));
        // The next build finds both (the unpackable one too) and uses only the first.
        cache.start_build();
        assert!(
            cache
                .get_or_pack(key(1), || {
                    calls += 1;
                    None
                })
                .is_some()
        );
        cache.finish_build();
        assert_eq!((cache.len(), calls), (1, 2));
        // Clones share it.
        assert_eq!(cache.clone().len(), 1);
    }
}
