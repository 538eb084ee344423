//! Floats that may be NaN in JSON: `serde_json` writes NaN and ±∞ as `null`, and these
//! helpers read `null` back as NaN, so a round summary with a missing metric survives a
//! checkpoint instead of failing to load.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// A float type with a NaN.
pub(crate) trait WithNan: Sized {
    /// Not a number.
    const NAN: Self;
}

impl WithNan for f32 {
    const NAN: Self = f32::NAN;
}

impl WithNan for f64 {
    const NAN: Self = f64::NAN;
}

/// A float, `null` read as NaN.
pub(crate) fn float<'de, D, F>(d: D) -> Result<F, D::Error>
where
    D: Deserializer<'de>,
    F: Deserialize<'de> + WithNan,
{
    Ok(Option::<F>::deserialize(d)?.unwrap_or(F::NAN))
}

/// A map of floats, `null` values read as NaN.
pub(crate) fn float_map<'de, D, K, F>(d: D) -> Result<BTreeMap<K, F>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    F: Deserialize<'de> + WithNan,
{
    let raw = BTreeMap::<K, Option<F>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(F::NAN)))
        .collect())
}

/// An optional map of floats, `null` values read as NaN.
pub(crate) fn optional_float_map<'de, D, K, F>(d: D) -> Result<Option<BTreeMap<K, F>>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    F: Deserialize<'de> + WithNan,
{
    let raw = Option::<BTreeMap<K, Option<F>>>::deserialize(d)?;
    Ok(raw.map(|m| {
        m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(F::NAN)))
            .collect()
    }))
}

/// A map of float vectors, `null` elements read as NaN.
pub(crate) fn float_vec_map<'de, D, K, F>(d: D) -> Result<BTreeMap<K, Vec<F>>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    F: Deserialize<'de> + WithNan,
{
    let raw = BTreeMap::<K, Vec<Option<F>>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|x| x.unwrap_or(F::NAN)).collect()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "float")]
        x: f64,
        #[serde(deserialize_with = "float_map")]
        m: BTreeMap<String, f32>,
        #[serde(deserialize_with = "float_vec_map")]
        v: BTreeMap<String, Vec<f32>>,
    }

    #[test]
    fn null_reads_as_nan_and_numbers_are_kept() {
        let s: Sample = serde_json::from_str(
            r#"{"x": null, "m": {"a": 0.25, "b": null}, "v": {"c": [1.5, null]}}"#,
        )
        .unwrap();
        assert!(s.x.is_nan());
        assert_eq!(s.m["a"], 0.25);
        assert!(s.m["b"].is_nan());
        assert_eq!(s.v["c"][0], 1.5);
        assert!(s.v["c"][1].is_nan());
    }

    #[test]
    fn a_nan_written_by_serde_json_comes_back_as_nan() {
        let text = serde_json::to_string(&serde_json::json!({
            "x": f64::NAN, "m": {"a": f64::INFINITY}, "v": {}
        }))
        .unwrap();
        let s: Sample = serde_json::from_str(&text).unwrap();
        assert!(s.x.is_nan());
        assert!(s.m["a"].is_nan());
    }
}
