//! [`Temperature`]: the softmax temperature of [`crate::TaskAccuracy`], which may be infinite.

use serde::{Deserialize, Serialize};

/// A softmax temperature `T > 0`, possibly `+∞` (which turns accuracy weighting off).
///
/// In TOML it is a number, TOML's `inf`, or one of the strings `"inf"`, `"infinite"`,
/// `"infinity"`; an infinite value is written back as the string `"inf"` so that it
/// survives JSON, which has no infinity. Range checks happen in the config's `build()`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TemperatureRepr", into = "TemperatureRepr")]
pub struct Temperature(f64);

/// Wire form: a number or a word meaning +∞.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TemperatureRepr {
    Number(f64),
    Word(String),
}

impl TryFrom<TemperatureRepr> for Temperature {
    type Error = String;
    fn try_from(repr: TemperatureRepr) -> Result<Self, String> {
        match repr {
            TemperatureRepr::Number(t) => Ok(Self(t)),
            TemperatureRepr::Word(w) => match w.to_ascii_lowercase().as_str() {
                "inf" | "+inf" | "infinite" | "infinity" => Ok(Self::INFINITE),
                _ => Err(format!(
                    "temperature must be a number or \"inf\", got {w:?}"
                )),
            },
        }
    }
}

impl From<Temperature> for TemperatureRepr {
    fn from(t: Temperature) -> Self {
        if t.0 == f64::INFINITY {
            TemperatureRepr::Word("inf".into())
        } else {
            TemperatureRepr::Number(t.0)
        }
    }
}

impl Temperature {
    /// `T = +∞`: every client of a task weighs by its sample count only.
    pub const INFINITE: Temperature = Temperature(f64::INFINITY);

    /// Wraps a value (checked by the config's `build()`).
    pub fn new(t: f64) -> Self {
        Self(t)
    }

    /// The value (possibly `f64::INFINITY`).
    pub fn value(self) -> f64 {
        self.0
    }

    /// True for a valid temperature: `T > 0` (finite or `+∞`).
    pub fn is_valid(self) -> bool {
        self.0 > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Holder {
        t: Temperature,
    }

    #[test]
    fn parses_numbers_and_infinity_spellings() {
        let h: Holder = toml::from_str("t = 0.5").unwrap();
        assert_eq!(h.t.value(), 0.5);
        let h: Holder = toml::from_str("t = inf").unwrap();
        assert_eq!(h.t, Temperature::INFINITE);
        let h: Holder = toml::from_str("t = \"Infinite\"").unwrap();
        assert_eq!(h.t, Temperature::INFINITE);
        assert!(toml::from_str::<Holder>("t = \"hot\"").is_err());
    }

    #[test]
    fn infinity_survives_json() {
        let json = serde_json::to_string(&Holder {
            t: Temperature::INFINITE,
        })
        .unwrap();
        assert_eq!(json, r#"{"t":"inf"}"#);
        let back: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(back.t, Temperature::INFINITE);
        assert_eq!(
            serde_json::to_string(&Holder {
                t: Temperature::new(0.25)
            })
            .unwrap(),
            r#"{"t":0.25}"#
        );
    }

    #[test]
    fn validity() {
        assert!(Temperature::new(1e-300).is_valid());
        assert!(Temperature::INFINITE.is_valid());
        assert!(!Temperature::new(0.0).is_valid());
        assert!(!Temperature::new(-1.0).is_valid());
        assert!(!Temperature::new(f64::NAN).is_valid());
        assert!(!Temperature::new(f64::NEG_INFINITY).is_valid());
    }
}
