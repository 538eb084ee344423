//! The Flower release this crate speaks, and the version headers it sends.

/// The Flower (`flwr`) release whose Fleet API this crate implements and is tested
/// against. The schemas in `proto/` were recovered from this release's wheel.
pub const FLOWER_VERSION: &str = "1.42.0";

/// The `major.minor` series the SuperLink must belong to.
pub const FLOWER_SERIES: &str = "1.42";

/// Header naming the peer's Flower package (Flower rejects unknown names once its
/// version check becomes strict, so a compatible client announces itself as `flwr`).
pub const PACKAGE_NAME_HEADER: &str = "flwr-package-name";
/// Header carrying the peer's Flower version ([`FLOWER_VERSION`]).
pub const PACKAGE_VERSION_HEADER: &str = "flwr-package-version";
/// Header naming the peer's component role.
pub const COMPONENT_NAME_HEADER: &str = "flwr-component-name";
/// Our component role on the Fleet API: a SuperNode.
pub const COMPONENT_NAME: &str = "supernode";

/// Checks that a Flower version string (e.g. from `flwr --version` or a deployment
/// manifest) belongs to the pinned series [`FLOWER_SERIES`].
///
/// # Errors
/// A message naming both versions when they differ in `major.minor`.
pub fn check_series(version: &str) -> Result<(), String> {
    let version = version.trim();
    let mut parts = version.split('.');
    let series = match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => return Err(format!("cannot parse Flower version {version:?}")),
    };
    if series == FLOWER_SERIES {
        Ok(())
    } else {
        Err(format!(
            "Flower {version} is not supported: fedmoa-flower speaks the Fleet API of \
             flwr {FLOWER_SERIES}.x (tested with {FLOWER_VERSION})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_version_matches_the_recovered_schemas() {
        // proto/FLWR_VERSION is written by scripts/recover_protos.py from the wheel the
        // schemas were recovered from; the two must move together.
        assert_eq!(include_str!("../proto/FLWR_VERSION").trim(), FLOWER_VERSION);
        assert!(FLOWER_VERSION.starts_with(FLOWER_SERIES));
        check_series(FLOWER_VERSION).unwrap();
    }

    #[test]
    fn series_check_accepts_patch_releases_only() {
        assert!(check_series("1.42.0").is_ok());
        assert!(check_series("1.42.3\n").is_ok());
        assert!(check_series("1.43.0").unwrap_err().contains("1.43.0"));
        assert!(check_series("2.42.0").is_err());
        assert!(check_series("garbage").is_err());
    }
}
