//! Comparing what execution computed with what the block header commits to.
//!
//! Layered bottom-up: `outcome` (one check's result, and all of a block's) ←
//! `against_header` (computing each check).

pub(crate) mod against_header;
pub(crate) mod outcome;
