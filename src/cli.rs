//! What the bundled examples share on the command line: errors printed with `Display`,
//! each cause on a line of its own, and a non-zero exit status.

use std::error::Error;
use std::process::ExitCode;

/// `error: <message>` and one `  caused by: <source>` line per cause, for `stderr`.
pub fn error_report(error: &dyn Error) -> String {
    let mut report = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        report.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    report
}

/// Exit status 0 for `Ok`; for `Err`, prints [`error_report`] to `stderr` and returns 1.
pub fn exit_code<E: Into<Box<dyn Error>>>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error_report(error.into().as_ref()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the model")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_report_lists_every_cause() {
        let e = Outer(std::io::Error::other("file truncated at byte 12"));
        assert_eq!(
            error_report(&e),
            "error: cannot read the model\n  caused by: file truncated at byte 12"
        );
        assert_eq!(exit_code::<Outer>(Ok(())), ExitCode::SUCCESS);
        assert_eq!(exit_code(Err(e)), ExitCode::FAILURE);
    }
}
