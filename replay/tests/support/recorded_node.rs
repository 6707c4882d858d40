//! A minimal JSON-RPC node over HTTP/1.1 on 127.0.0.1, answering from `eth_getProof`
//! recordings: enough of `eth_chainId`, `eth_getBlockByNumber`, `eth_getProof`,
//! `eth_getCode` and `eth_getUncleByBlockNumberAndIndex` for `parallax replay --rpc`.

use alloy_primitives::{Address, U256};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
};

#[derive(Default)]
struct Answers {
    blocks: HashMap<u64, Value>,
    uncles: HashMap<u64, Vec<Value>>,
    proofs: HashMap<(u64, Address), Value>,
    code: HashMap<Address, Value>,
}

/// A node serving recorded answers until the test ends.
pub(crate) struct RecordedNode {
    url: String,
}

impl RecordedNode {
    /// Serves the union of `recordings` (values in the `1-<N>.json` format).
    pub(crate) fn serve(recordings: &[Value]) -> Self {
        let mut answers = Answers::default();
        for recording in recordings {
            for pair in recording["full_blocks"].as_array().unwrap() {
                answers
                    .blocks
                    .insert(pair[0]["block_no"].as_u64().unwrap(), pair[1].clone());
            }
            for pair in recording["uncle_blocks"].as_array().into_iter().flatten() {
                answers
                    .uncles
                    .entry(pair[0]["block_no"].as_u64().unwrap())
                    .or_default()
                    .push(pair[1].clone());
            }
            for pair in recording["proofs"].as_array().unwrap() {
                let address: Address = serde_json::from_value(pair[1]["address"].clone()).unwrap();
                answers.proofs.insert(
                    (pair[0]["block_no"].as_u64().unwrap(), address),
                    pair[1].clone(),
                );
            }
            for pair in recording["code"].as_array().into_iter().flatten() {
                let address: Address = serde_json::from_value(pair[0]["address"].clone()).unwrap();
                answers.code.insert(address, pair[1].clone());
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answers = Arc::new(answers);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answers = Arc::clone(&answers);
                std::thread::spawn(move || serve_connection(stream, &answers));
            }
        });
        Self { url }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

fn serve_connection(stream: TcpStream, answers: &Answers) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut content_length = 0usize;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if first {
                first = false;
                continue;
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let response = match &request {
            Value::Array(batch) => Value::Array(batch.iter().map(|r| answer(r, answers)).collect()),
            single => answer(single, answers),
        };
        let body = response.to_string();
        // One write per response: separate small writes stall on delayed acknowledgements.
        let message = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(message.as_bytes()).is_err() {
            return;
        }
    }
}

fn block_number(tag: &Value) -> Option<u64> {
    u64::from_str_radix(tag.as_str()?.trim_start_matches("0x"), 16).ok()
}

fn answer(request: &Value, answers: &Answers) -> Value {
    let id = request["id"].clone();
    let params = &request["params"];
    let result: Result<Value, String> = match request["method"].as_str().unwrap_or_default() {
        "eth_chainId" => Ok(json!("0x1")),
        "eth_getBlockByNumber" => Ok(block_number(&params[0])
            .and_then(|n| answers.blocks.get(&n).cloned())
            .unwrap_or(Value::Null)),
        "eth_getUncleByBlockNumberAndIndex" => Ok(block_number(&params[0])
            .and_then(|n| answers.uncles.get(&n))
            .and_then(|uncles| {
                uncles
                    .get(block_number(&params[1]).unwrap_or(u64::MAX) as usize)
                    .cloned()
            })
            .unwrap_or(Value::Null)),
        "eth_getProof" => proof(params, answers),
        "eth_getCode" => serde_json::from_value::<Address>(params[0].clone())
            .ok()
            .and_then(|address| answers.code.get(&address).cloned())
            .ok_or_else(|| "code not recorded".to_owned()),
        method => {
            return json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("{method} not available")}});
        }
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(message) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message}})
        }
    }
}

/// The recorded proof, cut down to the requested slots.
fn proof(params: &Value, answers: &Answers) -> Result<Value, String> {
    let address: Address = serde_json::from_value(params[0].clone()).map_err(|e| e.to_string())?;
    let block = block_number(&params[2]).ok_or("block must be a number")?;
    let mut proof = answers
        .proofs
        .get(&(block, address))
        .cloned()
        .ok_or(format!("no proof recorded for {address} at {block}"))?;
    let wanted: Vec<U256> = serde_json::from_value(params[1].clone()).map_err(|e| e.to_string())?;
    let recorded = proof["storageProof"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut slots = Vec::new();
    for key in wanted {
        let slot = recorded
            .iter()
            .find(|slot| serde_json::from_value::<U256>(slot["key"].clone()).ok() == Some(key))
            .ok_or(format!(
                "slot {key:#x} of {address} not recorded at {block}"
            ))?;
        slots.push(slot.clone());
    }
    proof["storageProof"] = Value::Array(slots);
    Ok(proof)
}
