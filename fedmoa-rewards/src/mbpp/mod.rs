//! MBPP (Austin et al. 2021, "Mostly Basic Python Problems"): loader, prompt builder and
//! code extraction. Completions are scored by [`crate::rewards::PythonTests`].

mod extract;
mod loader;
mod prompt;

pub use extract::extract_python;
pub use loader::{MbppProblem, MbppSplit, load_mbpp, mbpp_path};
pub use prompt::{prompt_text, solution_text};
