//! fedmoa-rewards.
