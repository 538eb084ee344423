//! fedmoa-grpo.
