//! fedmoa-agg.
