//! Comparing what execution computed with what the block header commits to.
//!
//! Layered bottom-up: `outcome` (one check's result, and all of a block's) ←
//! `against_header` (computing each check); `delivered_list` checks an access list handed in
//! with a block before it runs.

pub(crate) mod against_header;
pub(crate) mod delivered_list;
pub(crate) mod outcome;
