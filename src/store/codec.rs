//! How keys and values are laid out in sled (the module map in
//! [`super`]): the keys of each tree, big-endian seqs, and values as JSON,
//! stored compressed (a zstd frame, told apart by its magic number) from
//! [`COMPRESS_MIN`] bytes on.

use serde::{Serialize, de::DeserializeOwned};

use super::{COMPRESS_LEVEL, COMPRESS_MIN, StoreError};
use crate::protocol::SessionId;

/// The first bytes of a zstd frame (RFC 8878 §3.1.1, little-endian
/// 0xFD2FB528). `(` cannot start a JSON document.
pub(super) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

pub(super) fn memory_key(dir: &str, agent: &str) -> Vec<u8> {
    let mut key = dir.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(agent.as_bytes());
    key
}

pub(super) fn seq_key(session: &SessionId, seq: u64) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn agent_prefix(session: &SessionId, agent: &str) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(agent.as_bytes());
    key.push(0);
    key
}

pub(super) fn record_prefix(session: &SessionId, kind: &str) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key
}

pub(super) fn u64_of(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(buf)
}

pub(super) fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, StoreError> {
    let json = unpack(key, value)?;
    serde_json::from_slice(&json).map_err(|source| StoreError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

/// The JSON of the value stored under `key`: decompressed when it is a zstd
/// frame.
///
/// Errors: [`StoreError::Decode`] naming `key` when the frame does not
/// decompress.
pub(super) fn unpack<'a>(
    key: &[u8],
    value: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, StoreError> {
    if value.starts_with(&ZSTD_MAGIC) {
        zstd::decode_all(value)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| StoreError::Decode {
                key: String::from_utf8_lossy(key).into_owned(),
                source: serde_json::Error::io(e),
            })
    } else {
        Ok(std::borrow::Cow::Borrowed(value))
    }
}

/// `json` as stored: compressed when it is at least [`COMPRESS_MIN`] bytes
/// and that makes it smaller, else as it is.
pub(super) fn pack(json: Vec<u8>) -> Vec<u8> {
    if json.len() < COMPRESS_MIN {
        return json;
    }
    thread_local! {
        /// One compression context per thread (making one costs more than
        /// compressing a small value).
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let packed = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(COMPRESS_LEVEL).ok();
        }
        cell.as_mut()?.compress(&json).ok()
    });
    match packed {
        Some(packed) if packed.len() < json.len() => packed,
        _ => json,
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with
    // non-string keys, no failing Serialize impls).
    pack(serde_json::to_vec(value).unwrap_or_default())
}
