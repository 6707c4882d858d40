//! Decoding a test block from its RLP, naming the transaction that does not decode when the
//! block as a whole does not.

use super::rejection::{Family, Rejection};
use alloy_consensus::{Block, Header, TxEip4844Variant, TxEnvelope};
use alloy_rlp::Decodable;

/// The block `rlp` encodes, which must be nothing more.
pub(super) fn decode_block(rlp: &[u8]) -> Result<Block<TxEnvelope>, Rejection> {
    let mut buf = rlp;
    let block =
        Block::<TxEnvelope>::decode(&mut buf).map_err(|e| match undecodable_transaction(rlp) {
            Some(rejection) => rejection,
            None => Rejection::new(Family::Decode, e.to_string()),
        })?;
    if !buf.is_empty() {
        return Err(Rejection::new(
            Family::Decode,
            format!("{} bytes after the block", buf.len()),
        ));
    }
    for (index, tx) in block.body.transactions.iter().enumerate() {
        if let TxEnvelope::Eip4844(signed) = tx
            && matches!(signed.tx(), TxEip4844Variant::TxEip4844WithSidecar(_))
        {
            return Err(Rejection::new(
                Family::Decode,
                format!("transaction {index} carries its blob sidecar inside the block"),
            ));
        }
    }
    Ok(block)
}

/// When a block does not decode but its header does, the first transaction that does not
/// decode on its own (a type-4 transaction without a recipient, say) is the culprit.
fn undecodable_transaction(rlp: &[u8]) -> Option<Rejection> {
    let mut buf = rlp;
    let outer = alloy_rlp::Header::decode(&mut buf).ok()?;
    if !outer.list {
        return None;
    }
    Header::decode(&mut buf).ok()?;
    let list = alloy_rlp::Header::decode(&mut buf).ok()?;
    let mut txs = buf.get(..list.payload_length)?;
    let mut index = 0;
    while !txs.is_empty() {
        let mut peek = txs;
        let item = alloy_rlp::Header::decode(&mut peek).ok()?;
        let length = txs.len() - peek.len() + item.payload_length;
        let (encoded, rest) = txs.split_at_checked(length)?;
        if let Err(error) = TxEnvelope::decode(&mut &encoded[..]) {
            return Some(Rejection::new(
                Family::Transaction,
                format!("transaction {index} does not decode: {error}"),
            ));
        }
        txs = rest;
        index += 1;
    }
    None
}
