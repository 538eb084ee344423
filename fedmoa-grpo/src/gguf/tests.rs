//! Parser tests on small files built with [`GgufBuilder`].

use super::*;

fn sample() -> GgufBuilder {
    GgufBuilder::new()
        .metadata(
            "general.architecture",
            MetadataValue::String("llama".into()),
        )
        .metadata("llama.block_count", MetadataValue::U32(2))
        .metadata("llama.rope.freq_base", MetadataValue::F32(100_000.0))
        .metadata(
            "tokenizer.ggml.tokens",
            MetadataValue::Array(vec![
                MetadataValue::String("a".into()),
                MetadataValue::String("Ġb".into()),
            ]),
        )
        .metadata(
            "tokenizer.ggml.token_type",
            MetadataValue::Array(vec![MetadataValue::I32(1), MetadataValue::I32(3)]),
        )
        .f32_tensor("norm.weight", &[3], &[1.0, 2.0, 3.0])
        // Q8_0 [1, 32]: d = 1.0 (f16 0x3c00), codes 0..32
        .tensor("emb.weight", vec![32, 1], GgmlType::Q8_0, {
            let mut b = vec![0x00, 0x3c];
            b.extend(0u8..32);
            b
        })
}

#[test]
fn parses_metadata_and_tensors() {
    let f = GgufFile::parse(sample().to_bytes()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(f.get_u64("llama.block_count").unwrap(), 2);
    assert_eq!(f.get_f64("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(
        f.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["a", "Ġb"]
    );
    assert_eq!(
        f.get_int_array("tokenizer.ggml.token_type").unwrap(),
        [1, 3]
    );
    assert_eq!(f.tensors().len(), 2);
    let (shape, v) = f.dequantize("norm.weight").unwrap();
    assert_eq!((shape, v), (vec![3], vec![1.0, 2.0, 3.0]));
    let (shape, v) = f.dequantize("emb.weight").unwrap();
    assert_eq!(shape, vec![1, 32]);
    assert_eq!(v, (0..32).map(|i| i as f32).collect::<Vec<_>>());
    // The second tensor starts at the next 32-byte boundary after 12 bytes.
    assert_eq!(f.tensor("emb.weight").unwrap().offset, 32);
}

#[test]
fn typed_getters_name_the_key() {
    let f = GgufFile::parse(sample().to_bytes()).unwrap();
    let err = f.get_str("llama.block_count").unwrap_err();
    assert!(err.to_string().contains("llama.block_count"), "{err}");
    let err = f.get_u64("llama.missing").unwrap_err();
    assert_eq!(err.to_string(), "metadata \"llama.missing\": missing");
    assert!(matches!(
        f.dequantize("nope"),
        Err(GgufError::MissingTensor(_))
    ));
}

#[test]
fn honours_a_custom_alignment() {
    let bytes = sample()
        .metadata("general.alignment", MetadataValue::U32(64))
        .to_bytes();
    let f = GgufFile::parse(bytes).unwrap();
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.tensor("emb.weight").unwrap().offset, 64);
    assert_eq!(f.dequantize("emb.weight").unwrap().1[31], 31.0);
    let bad = sample()
        .metadata("general.alignment", MetadataValue::U32(24))
        .to_bytes();
    let err = GgufFile::parse(bad).unwrap_err();
    assert!(err.to_string().contains("power of two"), "{err}");
}

#[test]
fn rejects_bad_magic_and_version() {
    let mut bytes = sample().to_bytes();
    bytes[0] = b'X';
    assert!(matches!(
        GgufFile::parse(bytes),
        Err(GgufError::BadMagic { .. })
    ));
    let mut bytes = sample().to_bytes();
    bytes[4] = 1; // version 1 used 32-bit counts
    assert!(matches!(
        GgufFile::parse(bytes),
        Err(GgufError::UnsupportedVersion(1))
    ));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().to_bytes();
    for len in 0..bytes.len() {
        // Data section: F32 at 0..12, Q8_0 at 32..66, padded to 96; so the last
        // tensor ends 96 − 66 = 30 bytes before the end. Only trailing padding may go.
        let r = GgufFile::parse(bytes[..len].to_vec());
        if len < bytes.len() - 30 {
            assert!(r.is_err(), "prefix of {len} bytes parsed");
        }
    }
}

#[test]
fn duplicate_keys_and_tensors_are_refused() {
    let bytes = sample()
        .metadata("llama.block_count", MetadataValue::U32(3))
        .to_bytes();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(err.to_string().contains("duplicate metadata key"), "{err}");
    let bytes = sample().f32_tensor("norm.weight", &[1], &[0.0]).to_bytes();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(err.to_string().contains("duplicate tensor"), "{err}");
}

#[test]
fn unsupported_types_parse_but_do_not_dequantise() {
    let bytes = sample()
        .tensor("k.weight", vec![256], GgmlType::Other(12), vec![0; 144])
        .to_bytes();
    let f = GgufFile::parse(bytes).unwrap();
    let err = f.dequantize("k.weight").unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"k.weight\": unsupported type Q4_K (ggml type 12)"
    );
}

#[test]
fn impossible_tensor_infos_are_refused() {
    // rank 0
    let bytes = GgufBuilder::new()
        .tensor("t", vec![], GgmlType::F32, vec![])
        .to_bytes();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(err.to_string().contains("rank 0"), "{err}");
    // element count overflows
    let bytes = GgufBuilder::new()
        .tensor("t", vec![u64::MAX, 2], GgmlType::F32, vec![0; 4])
        .to_bytes();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(err.to_string().contains("invalid dimensions"), "{err}");
    // Q4_1 row of 30 elements is not a whole block
    let bytes = GgufBuilder::new()
        .tensor("t", vec![30], GgmlType::Q4_1, vec![0; 20])
        .to_bytes();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(err.to_string().contains("whole"), "{err}");
}
