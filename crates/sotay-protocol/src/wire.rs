//! The bytes on the wire: request bodies are JSON compressed with zstd and must carry the frame's
//! content checksum, so a body corrupted on the way fails to decompress instead of being misread;
//! decompression is bounded so that a small body cannot inflate without limit. Device tokens are
//! kept by the server (and key USB bundles) only as their SHA-256.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("nội dung nén thiếu mã kiểm tra (zstd content checksum)")]
    MissingChecksum,
    #[error("nội dung nén hỏng hoặc bị cắt: {0}")]
    Corrupt(String),
    #[error("quá {limit} byte sau khi giải nén")]
    TooLarge { limit: u64 },
}

/// Compresses a body as the protocol requires: zstd level 3 with the content checksum.
pub fn compress_body(json: &[u8]) -> Vec<u8> {
    let mut encoder =
        zstd::stream::Encoder::new(Vec::new(), 3).expect("level 3 is a valid zstd level");
    encoder
        .include_checksum(true)
        .expect("checksums are supported");
    encoder.write_all(json).expect("writing to memory");
    encoder.finish().expect("finishing into memory")
}

/// Whether a zstd body carries the content checksum that [`compress_body`] adds (bit 2 of the
/// frame header descriptor, after the 4-byte magic number).
pub fn has_checksum(body: &[u8]) -> bool {
    body.len() > 4 && body[..4] == [0x28, 0xb5, 0x2f, 0xfd] && body[4] & 0x04 != 0
}

/// Decompresses a checksummed body, refusing more than `limit` bytes of output.
pub fn decompress_body(body: &[u8], limit: u64) -> Result<Vec<u8>, WireError> {
    if !has_checksum(body) {
        return Err(WireError::MissingChecksum);
    }
    let decoder =
        zstd::stream::read::Decoder::new(body).map_err(|e| WireError::Corrupt(e.to_string()))?;
    let mut out = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| WireError::Corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(WireError::TooLarge { limit });
    }
    Ok(out)
}

/// Hash under which the server stores a device token (hex SHA-256).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_damage_is_refused() {
        let json = br#"{"records":[]}"#.repeat(100);
        let body = compress_body(&json);
        assert!(has_checksum(&body));
        assert_eq!(decompress_body(&body, 1 << 20).unwrap(), json);
        assert!(matches!(
            decompress_body(&body, 10),
            Err(WireError::TooLarge { limit: 10 })
        ));
        let plain = zstd::encode_all(&json[..], 3).unwrap();
        assert!(matches!(
            decompress_body(&plain, 1 << 20),
            Err(WireError::MissingChecksum)
        ));
        let mut damaged = body.clone();
        let last = damaged.len() - 2;
        damaged[last] ^= 0xff;
        assert!(decompress_body(&damaged, 1 << 20).is_err());
    }
}
