//! EIP-7928 access lists: the `--access-list` file importer (JSON records), and the lists'
//! RLP, which must round-trip, and their conversion to revm's form, which the engine reads.
#![no_main]

use alloy_eips::eip7928::{BlockAccessList, compute_block_access_list_hash};
use alloy_rlp::Decodable;
use libfuzzer_sys::fuzz_target;
use parallax_fuzz::scratch;
use parallax_replay::load_access_lists;
use revm::state::bal::Bal;

fuzz_target!(|data: &[u8]| {
    let path = scratch::write("lists.json", data);
    if let Ok(lists) = load_access_lists(&path) {
        for list in lists.into_values() {
            let hash = compute_block_access_list_hash(&list);
            let encoded = alloy_rlp::encode(&list);
            let decoded =
                BlockAccessList::decode(&mut encoded.as_slice()).expect("an encoded list decodes");
            assert_eq!(compute_block_access_list_hash(&decoded), hash);
            let _ = Bal::try_from_alloy(list);
        }
    }
    let mut buf = data;
    if let Ok(list) = BlockAccessList::decode(&mut buf) {
        let encoded = alloy_rlp::encode(&list);
        let again = BlockAccessList::decode(&mut encoded.as_slice()).expect("re-encoded decodes");
        assert_eq!(again, list, "the list's RLP does not round-trip");
        let _ = Bal::try_from_alloy(list);
    }
});
