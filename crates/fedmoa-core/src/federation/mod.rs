//! The federation loop (filled in next).
