//! Fuzzes the GGUF parser: random bytes, truncations and bit flips of a valid small file
//! must give `Ok` or `Err`, never a panic or an unbounded allocation.

use fedmoa_grpo::gguf::{GgmlType, GgufBuilder, GgufFile, MetadataValue};
use proptest::prelude::*;

/// A valid file with every metadata type, nested arrays and three tensor types.
fn valid_file() -> Vec<u8> {
    let strings = MetadataValue::Array(vec![
        MetadataValue::String("<|im_start|>".into()),
        MetadataValue::String("Ġthe".into()),
    ]);
    let mut q4_1 = vec![0x00, 0x38, 0x00, 0xbc];
    q4_1.extend(0u8..16);
    let mut q8_0 = vec![0x00, 0x3c];
    q8_0.extend(0u8..32);
    GgufBuilder::new()
        .metadata(
            "general.architecture",
            MetadataValue::String("llama".into()),
        )
        .metadata("a.u8", MetadataValue::U8(1))
        .metadata("a.i8", MetadataValue::I8(-1))
        .metadata("a.u16", MetadataValue::U16(2))
        .metadata("a.i16", MetadataValue::I16(-2))
        .metadata("a.u32", MetadataValue::U32(3))
        .metadata("a.i32", MetadataValue::I32(-3))
        .metadata("a.f32", MetadataValue::F32(0.5))
        .metadata("a.bool", MetadataValue::Bool(true))
        .metadata("a.u64", MetadataValue::U64(4))
        .metadata("a.i64", MetadataValue::I64(-4))
        .metadata("a.f64", MetadataValue::F64(0.25))
        .metadata("a.strings", strings.clone())
        .metadata("a.nested", MetadataValue::Array(vec![strings]))
        .f32_tensor("norm.weight", &[4], &[1.0, 2.0, 3.0, 4.0])
        .tensor("q.weight", vec![32], GgmlType::Q4_1, q4_1)
        .tensor("e.weight", vec![32], GgmlType::Q8_0, q8_0)
        .to_bytes()
}

/// Parses and, when that succeeds, dequantises every tensor (errors are fine).
fn exercise(bytes: Vec<u8>) {
    if let Ok(file) = GgufFile::parse(bytes) {
        let names: Vec<String> = file.tensors().iter().map(|t| t.name.clone()).collect();
        for name in names {
            let _ = file.dequantize(&name);
        }
    }
}

#[test]
fn the_valid_file_parses_and_dequantises() {
    let file = GgufFile::parse(valid_file()).unwrap();
    assert_eq!(file.metadata().len(), 14);
    assert_eq!(file.dequantize("q.weight").unwrap().1[0], -1.0); // 0·0.5 − 1
    assert_eq!(file.dequantize("e.weight").unwrap().1[31], 31.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // magic, version 3, then arbitrary counts and contents
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend(tail);
        exercise(bytes);
    }

    #[test]
    fn truncations_never_panic(cut in 0usize..10_000) {
        let bytes = valid_file();
        let len = cut % (bytes.len() + 1);
        exercise(bytes[..len].to_vec());
    }

    #[test]
    fn bit_flips_never_panic(flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..8)) {
        let mut bytes = valid_file();
        let n = bytes.len();
        for (pos, bit) in flips {
            bytes[pos % n] ^= 1 << bit;
        }
        exercise(bytes);
    }
}
